/**
 * The routes of the control channel (channel.ts) that `metamysql local up` serves to the other
 * `local` verbs (src/cli/local.ts): each parses its JSON body and calls one verb of the running
 * runtime. ARCHITECTURE.md section 6.
 */
import { isRecord, type KObject } from "../apiserver/objects.js";
import type { ControlHandler } from "./channel.js";

/** What the routes call: the verbs of a running local runtime. */
export interface ControlVerbs {
  /** `local status [CLUSTER]`; with `detail`, the kubelet's view of each pod too. */
  status(detail: boolean, cluster: string | undefined): unknown;
  apply(manifest: unknown): Promise<KObject>;
  applyObject(manifest: unknown): KObject;
  /** `local apply -f`: every document or none. */
  applyDocuments(docs: unknown[]): Promise<unknown>;
  /** `local get KIND [NAME]`. */
  get(kind: string, name: string | undefined): unknown;
  kill(pod: string, signal: string): void;
  /** `local delete` without arguments: every parent object; resolves when they are gone. */
  deleteEverything(): Promise<void>;
  /** `local delete KIND NAME`; resolves when it is gone. */
  deleteNamed(kind: string, name: string): Promise<string>;
  /** `local delete -f FILE`. */
  deleteDocuments(docs: unknown[]): Promise<unknown>;
  /** Runs a CronJob now; returns the Job's name. */
  trigger(cronJob: string): string;
  /** Stops the runtime (called after the answer is sent). */
  stop(): Promise<void>;
}

/** The routes ("GET /status", "POST /apply", ...) over `verbs`. */
export function controlRoutes(verbs: ControlVerbs): Record<string, ControlHandler> {
  const fields = (body: unknown): Record<string, unknown> => (isRecord(body) ? body : {});
  return {
    "GET /status": async (_b, q) => verbs.status(Boolean(q.get("detail")), q.get("cluster") ?? undefined),
    "POST /apply": async (body) => verbs.apply(body),
    "POST /apply-documents": async (body) => ({
      applied: await verbs.applyDocuments(Array.isArray(fields(body).documents) ? (fields(body).documents as unknown[]) : []),
    }),
    "GET /get": async (_b, q) => verbs.get(q.get("kind") ?? "", q.get("name") ?? undefined),
    "POST /kill": async (body) => {
      const b = fields(body);
      verbs.kill(String(b.pod ?? ""), String(b.signal ?? "KILL"));
      return { ok: true };
    },
    "POST /delete": async () => {
      await verbs.deleteEverything();
      setImmediate(() => void verbs.stop());
      return { ok: true };
    },
    "POST /delete-object": async (body) => ({ deleted: await verbs.deleteNamed(String(fields(body).kind ?? ""), String(fields(body).name ?? "")) }),
    "POST /delete-documents": async (body) => ({
      results: await verbs.deleteDocuments(Array.isArray(fields(body).documents) ? (fields(body).documents as unknown[]) : []),
    }),
    "POST /object": async (body) => verbs.applyObject(body),
    "POST /trigger": async (body) => ({ job: verbs.trigger(String(fields(body).cronJob ?? "")) }),
    "POST /stop": async () => {
      setImmediate(() => void verbs.stop());
      return { ok: true };
    },
  };
}
