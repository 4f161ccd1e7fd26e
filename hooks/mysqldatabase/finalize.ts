/**
 * POST /hooks/mysqldatabase/finalize (docs/app-objects.md): deletionPolicy Delete drops the
 * schema, Retain keeps it; either way its ownership record is released, and only a schema this
 * object owns is ever dropped. Waits (Pending) for a writable primary; finalized at once when the
 * object never created anything or its cluster is gone.
 */
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { MySQLDatabaseSpecSchema } from "../../src/api/database.js";
import { onPrimary, removeDatabase } from "../../src/mysql/app-objects.js";
import { appStatus, classifyError, connectOptions, PENDING_RESYNC_SECONDS, resolvePrimary } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { parseDatabaseSync, previousDatabaseStatus } from "./request.js";

/** Handles a finalize request body. */
export async function finalizeMySQLDatabase(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseDatabaseSync(body);
  const previous = previousDatabaseStatus(parsed);
  const finalizing = parsed.request.finalizing;
  const database = previous.database;
  const clusterName = previous.cluster;
  const uid = parsed.parent.metadata.uid;
  // Nothing was ever created (Invalid, never Ready), or the cluster is gone with its data.
  if (!database || !clusterName || !uid || !parsed.cluster) return { status: previous, children: [], finalized: finalizing };
  const spec = MySQLDatabaseSpecSchema.safeParse(parsed.parent.spec ?? {});
  const drop = spec.success && spec.data.deletionPolicy === "Delete";
  const now = ctx.now();
  const target = resolvePrimary(parsed, clusterName);
  if (!target.ok) {
    return {
      status: { ...previous, ...appStatus("Pending", `deleting: ${target.message}`, previous, now) },
      children: [],
      resyncAfterSeconds: PENDING_RESYNC_SECONDS,
      finalized: false,
    };
  }
  try {
    const outcome = await onPrimary(connectOptions(target.target, ctx), (s) => removeDatabase(s, database, uid, drop));
    ctx.logger.info({ database, outcome }, "schema finalized");
    const message =
      outcome === "dropped"
        ? `schema ${database} dropped`
        : outcome === "released"
          ? `schema ${database} kept (deletionPolicy Retain)`
          : `schema ${database} not owned: left alone`;
    return { status: { ...previous, message }, children: [], finalized: finalizing };
  } catch (err) {
    const c = classifyError(err);
    if (!c) throw err;
    return {
      status: { ...previous, ...appStatus(c.state, `deleting: ${c.message}`, previous, now) },
      children: [],
      resyncAfterSeconds: PENDING_RESYNC_SECONDS,
      finalized: false,
    };
  }
}
