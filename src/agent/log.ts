/** The agent's log: one JSON object per line on stderr (never a token or a password). */
export type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/** A Log writing JSON lines to `write` (stderr by default), tagged with the component. */
export function jsonLog(component: string, write: (line: string) => void = (l) => process.stderr.write(l)): Log {
  return (level, msg, fields = {}) => write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields })}\n`);
}
