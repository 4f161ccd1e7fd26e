/**
 * POST /hooks/mysqldatabase/sync (docs/app-objects.md): creates the schema on the current
 * primary (through the binary log) and keeps its character set and collation as declared.
 * - Invalid: the spec, or a system schema; nothing is touched.
 * - Pending: no cluster, no writable primary, no operator Secret; resyncs until it converges,
 *   also after a failover (the new primary is in the cluster's status).
 * - Failed: the server refused (its redacted message), or the schema exists and was not
 *   created by this object (metamysql.owned_objects).
 * No children.
 */
import type { MySQLDatabaseStatus } from "../../src/api/database.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { convergeDatabase, onPrimary } from "../../src/mysql/app-objects.js";
import { appStatus, classifyError, connectOptions, resolvePrimary, resyncFor } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { databaseSpec, parseDatabaseSync, previousDatabaseStatus } from "./request.js";

/** Handles a sync request body. */
export async function syncMySQLDatabase(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseDatabaseSync(body);
  const previous = previousDatabaseStatus(parsed);
  const now = ctx.now();
  const answer = (state: MySQLDatabaseStatus["state"] & string, message: string, extra: Partial<MySQLDatabaseStatus> = {}): SyncResponse => ({
    status: { ...previous, ...extra, ...appStatus(state, message, previous, now) },
    children: [],
    ...resyncFor(state),
  });
  const resolved = databaseSpec(parsed);
  if (!resolved.ok) return answer("Invalid", resolved.message);
  const { spec, database } = resolved;
  // The CRD keeps both immutable (CEL); this holds where CEL does not run (an older CRD, the local runtime).
  if (previous.database !== undefined && previous.database !== database)
    return answer("Invalid", `invalid spec: the schema name is immutable (was ${previous.database}, now ${database})`);
  if (previous.cluster !== undefined && previous.cluster !== spec.clusterName)
    return answer("Invalid", `invalid spec: spec.clusterName is immutable (was ${previous.cluster}, now ${spec.clusterName})`);
  const target = resolvePrimary(parsed, spec.clusterName);
  if (!target.ok) return answer("Pending", target.message);
  const owner = { uid: parsed.parent.metadata.uid ?? "", describe: `MySQLDatabase ${parsed.parent.metadata.namespace}/${parsed.parent.metadata.name}` };
  if (!owner.uid) return answer("Pending", "metadata.uid not set yet");
  try {
    const result = await onPrimary(connectOptions(target.target, ctx), (s) =>
      convergeDatabase(s, { name: database, characterSet: spec.characterSet, collation: spec.collation }, owner),
    );
    if (result.changes.length > 0) ctx.logger.info({ database, changes: result.changes }, "schema converged");
    return answer("Ready", `schema ${database} on ${target.target.primary}`, { database, cluster: spec.clusterName });
  } catch (err) {
    const c = classifyError(err);
    if (!c) throw err;
    // A claim may have been recorded before the server refused: finalize looks (it drops only what it owns).
    return answer(c.state, c.message, { database, cluster: spec.clusterName });
  }
}
