/**
 * The routes of the control channel (channel.ts) that `metamysql local up` serves to the other
 * `local` verbs (src/cli/local.ts): each parses its JSON body and calls one verb of the running
 * runtime. ARCHITECTURE.md section 6.
 */
import { isRecord, type KObject } from "../apiserver/objects.js";
import type { ControlHandler } from "./channel.js";

/** What the routes call: the verbs of a running local runtime. */
export interface ControlVerbs {
  /** `local status`; with `detail`, the kubelet's view of each pod too. */
  status(detail: boolean): unknown;
  apply(manifest: unknown): Promise<KObject>;
  applyObject(manifest: unknown): KObject;
  kill(pod: string, signal: string): void;
  /** Deletes the cluster and resolves when it is gone. */
  deleteCluster(): Promise<void>;
  /** Runs a CronJob now; returns the Job's name. */
  trigger(cronJob: string): string;
  /** Stops the runtime (called after the answer is sent). */
  stop(): Promise<void>;
}

/** The routes ("GET /status", "POST /apply", ...) over `verbs`. */
export function controlRoutes(verbs: ControlVerbs): Record<string, ControlHandler> {
  const fields = (body: unknown): Record<string, unknown> => (isRecord(body) ? body : {});
  return {
    "GET /status": async (_b, q) => verbs.status(Boolean(q.get("detail"))),
    "POST /apply": async (body) => verbs.apply(body),
    "POST /kill": async (body) => {
      const b = fields(body);
      verbs.kill(String(b.pod ?? ""), String(b.signal ?? "KILL"));
      return { ok: true };
    },
    "POST /delete": async () => {
      await verbs.deleteCluster();
      setImmediate(() => void verbs.stop());
      return { ok: true };
    },
    "POST /object": async (body) => verbs.applyObject(body),
    "POST /trigger": async (body) => ({ job: verbs.trigger(String(fields(body).cronJob ?? "")) }),
    "POST /stop": async () => {
      setImmediate(() => void verbs.stop());
      return { ok: true };
    },
  };
}
