/**
 * POST /hooks/mysqluser/sync (docs/app-objects.md): creates the account on the current primary
 * (through the binary log), sets its password from the Secret (again whenever the Secret
 * changes: rotation), its MAX_USER_CONNECTIONS, and exactly the declared grants (a privilege
 * removed from the spec is revoked); renders the connection Secret `<name>-connection`.
 * - Invalid: the spec, the operator's or a server's account, a grant on a system schema.
 * - Pending: no cluster, no writable primary, a missing Secret or key (named).
 * - Failed: an unknown privilege, the server refused (its redacted message), or the account
 *   exists and was not created by this object.
 * Anything but Ready keeps the observed children as they are.
 */
import { createHmac } from "node:crypto";
import type { Child } from "../../src/api/k8s.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import { connectionSecretName, type MySQLUserStatus } from "../../src/api/user.js";
import { convergeAccount, normalizeGrants, onPrimary } from "../../src/mysql/app-objects.js";
import { buildConnectionSecret } from "../../src/render/connection-secret.js";
import { appStatus, classifyError, connectOptions, resolvePrimary, resyncFor, secretValue } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { parseUserSync, previousUserStatus, userSpec } from "./request.js";

/**
 * What status records of the password last set: an HMAC keyed with the operator password (which
 * no reader of the status has), so a new password is noticed whatever the Secret's resourceVersion
 * does, and the status holds nothing a password could be guessed from offline.
 */
export function passwordFingerprint(key: string, uid: string, password: string): string {
  return createHmac("sha256", key).update(`${uid}\0${password}`).digest("hex").slice(0, 32);
}

/** Handles a sync request body. */
export async function syncMySQLUser(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseUserSync(body);
  const previous = previousUserStatus(parsed);
  const now = ctx.now();
  const kept = parsed.children.map(unchangedChild);
  const answer = (state: MySQLUserStatus["state"] & string, message: string, extra: Partial<MySQLUserStatus> = {}, children: Child[] = kept): SyncResponse => ({
    status: { ...previous, ...extra, ...appStatus(state, message, previous, now) },
    children,
    ...resyncFor(state),
  });
  const resolved = userSpec(parsed);
  if (!resolved.ok) return answer("Invalid", resolved.message);
  const { spec, user } = resolved;
  if (previous.user !== undefined && (previous.user !== user || previous.host !== spec.host))
    return answer("Invalid", `invalid spec: the account is immutable (was ${previous.user}@${previous.host ?? "%"}, now ${user}@${spec.host})`);
  if (previous.cluster !== undefined && previous.cluster !== spec.clusterName)
    return answer("Invalid", `invalid spec: spec.clusterName is immutable (was ${previous.cluster}, now ${spec.clusterName})`);

  const ref = spec.passwordSecretKeyRef;
  const secret = parsed.secrets.find((s) => s.metadata.name === ref.name);
  if (!secret) return answer("Pending", `password Secret ${ref.name} not found`);
  const password = secretValue(secret, ref.key);
  if (!password) return answer("Pending", `password Secret ${ref.name} has no key ${ref.key} (or it is empty)`);
  const target = resolvePrimary(parsed, spec.clusterName);
  if (!target.ok) return answer("Pending", target.message);
  const grants = normalizeGrants(target.target.flavor, spec.grants);
  if (!grants.ok) return answer("Failed", grants.message);
  const uid = parsed.parent.metadata.uid;
  if (!uid) return answer("Pending", "metadata.uid not set yet");
  const passwordVersion = passwordFingerprint(target.target.appsPassword, uid, password);
  const owner = { uid, describe: `MySQLUser ${parsed.parent.metadata.namespace}/${parsed.parent.metadata.name}` };
  const recorded = { user, host: spec.host, cluster: spec.clusterName };
  try {
    const result = await onPrimary(connectOptions(target.target, ctx), (s) =>
      convergeAccount(
        s,
        {
          user,
          host: spec.host,
          password,
          setPassword: previous.passwordVersion !== passwordVersion,
          maxUserConnections: spec.maxUserConnections ?? 0,
          grants: grants.grants,
        },
        owner,
      ),
    );
    if (result.changes.length > 0) ctx.logger.info({ account: `${user}@${spec.host}`, changes: result.changes }, "account converged");
    const databases = [...new Set(grants.grants.map((g) => g.database))];
    const connection = buildConnectionSecret({
      owner: parsed.parent.metadata.name,
      namespace: parsed.parent.metadata.namespace,
      clusterName: spec.clusterName,
      flavor: target.target.flavor,
      username: user,
      password,
      database: databases.length === 1 ? databases[0] : undefined,
    });
    const others = kept.filter((c) => !(c.kind === "Secret" && c.metadata.name === connection.metadata.name));
    return answer(
      "Ready",
      `account ${user}@${spec.host} on ${target.target.primary}`,
      { ...recorded, passwordVersion, connectionSecret: connectionSecretName(parsed.parent.metadata.name) },
      [...others, connection],
    );
  } catch (err) {
    const c = classifyError(err);
    if (!c) throw err;
    // A claim may have been recorded before the server refused: finalize looks (it drops only what it owns).
    return answer(c.state, c.message, recorded);
  }
}
