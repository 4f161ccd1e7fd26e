/**
 * Cron schedules as Kubernetes CronJobs read them (5 fields: minute, hour, day of month, month,
 * day of week, with names, ranges, steps, lists and `?`; or a macro such as `@daily`), in an
 * IANA time zone (`spec.timeZone`), evaluated with cron-parser. The API validates
 * `spec.backups.schedules[]` with the same functions the local CronJob controller runs, so a
 * schedule the hook accepts is one that runs.
 */
import { CronExpressionParser } from "cron-parser";

/** The macros Kubernetes accepts (robfig/cron's descriptors, without @every and @reboot). */
const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};
export const CRON_MACROS = Object.keys(MACROS);

/** The 5-field form of a schedule (macros expanded), as cron-parser reads it. */
function expand(schedule: string): string {
  const text = schedule.trim();
  return MACROS[text] ?? text;
}

const NAMES = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT";
/** One list item of a field: `*`, `?`, a number or a name, a range, each with an optional step. */
const ITEM = new RegExp(`^(\\*|\\?|\\d+|${NAMES})(-(\\d+|${NAMES}))?(/\\d+)?$`, "i");

/** Why `timeZone` is not an IANA time zone this runtime knows, or undefined. */
export function timeZoneProblem(timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return undefined;
  } catch {
    return `unknown time zone "${timeZone}" (expected an IANA name such as Europe/Berlin or UTC)`;
  }
}

/** Why `schedule` is not a schedule Kubernetes would run, or undefined. */
export function cronProblem(schedule: string, timeZone?: string): string | undefined {
  const text = schedule.trim();
  if (!text.startsWith("@")) {
    const fields = text.split(/\s+/);
    if (fields.length !== 5)
      return `"${schedule}" has ${fields.length} fields; a schedule has 5 (minute hour day-of-month month day-of-week) or is a macro such as @daily`;
    for (const field of fields) {
      for (const item of field.split(",")) {
        if (!ITEM.test(item)) return `"${schedule}": "${item}" is not a cron item (number, name, *, ?, range, step; L, W and # are not supported)`;
      }
    }
  } else if (MACROS[text] === undefined) {
    return `"${schedule}" is not a supported macro (${CRON_MACROS.join(", ")})`;
  }
  if (timeZone !== undefined) {
    const tz = timeZoneProblem(timeZone);
    if (tz) return tz;
  }
  try {
    CronExpressionParser.parse(expand(text), { currentDate: new Date(0), ...(timeZone ? { tz: timeZone } : {}) }).next();
    return undefined;
  } catch (err) {
    return `"${schedule}": ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * The newest time the schedule fires in the window (after, upTo], or undefined. Time zone as
 * Kubernetes: `timeZone` when given, else UTC (the controller manager's zone on most clusters).
 */
export function lastScheduledTime(schedule: string, timeZone: string | undefined, after: Date, upTo: Date): Date | undefined {
  const expr = CronExpressionParser.parse(expand(schedule), { currentDate: new Date(upTo.getTime() + 1), tz: timeZone ?? "UTC" });
  const t = expr.prev().toDate();
  return t.getTime() > after.getTime() ? t : undefined;
}

/** The next `count` times the schedule fires after `from` (for status and tests). */
export function nextScheduledTimes(schedule: string, timeZone: string | undefined, from: Date, count: number): Date[] {
  const expr = CronExpressionParser.parse(expand(schedule), { currentDate: from, tz: timeZone ?? "UTC" });
  return Array.from({ length: count }, () => expr.next().toDate());
}
