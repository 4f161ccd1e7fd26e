/**
 * POST /hooks/mysqluser/finalize (docs/app-objects.md): deletionPolicy Delete (the default)
 * drops the account, Retain keeps it; either way its ownership record is released, and only an
 * account this object owns is ever dropped. The connection Secret goes with the MySQLUser.
 * Waits (Pending) for a writable primary; finalized at once when nothing was ever created or
 * the cluster is gone.
 */
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { MySQLUserSpecSchema } from "../../src/api/user.js";
import { onPrimary, removeAccount } from "../../src/mysql/app-objects.js";
import { appStatus, classifyError, connectOptions, PENDING_RESYNC_SECONDS, resolvePrimary } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { parseUserSync, previousUserStatus } from "./request.js";

/** Handles a finalize request body. */
export async function finalizeMySQLUser(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseUserSync(body);
  const previous = previousUserStatus(parsed);
  const finalizing = parsed.request.finalizing;
  const { user, host, cluster: clusterName } = previous;
  const uid = parsed.parent.metadata.uid;
  if (!user || !host || !clusterName || !uid || !parsed.cluster) return { status: previous, children: [], finalized: finalizing };
  const spec = MySQLUserSpecSchema.safeParse(parsed.parent.spec ?? {});
  // Delete is the default: an unreadable spec drops what this object owns, as its default says.
  const drop = !spec.success || spec.data.deletionPolicy === "Delete";
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
    const outcome = await onPrimary(connectOptions(target.target, ctx), (s) => removeAccount(s, user, host, uid, drop));
    ctx.logger.info({ account: `${user}@${host}`, outcome }, "account finalized");
    const message =
      outcome === "dropped"
        ? `account ${user}@${host} dropped`
        : outcome === "released"
          ? `account ${user}@${host} kept (deletionPolicy Retain)`
          : `account ${user}@${host} not owned: left alone`;
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
