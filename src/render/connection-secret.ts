/**
 * The connection Secret `<user>-connection` of a MySQLUser (docs/app-objects.md): what an
 * application needs to connect, pointing at the cluster's read-write Service `<c>` (and `<c>-ro`
 * as readOnlyHost) by their in-cluster DNS names. Pure.
 */
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, MYSQL_PORT } from "../api/constants.js";
import type { Flavor } from "../api/cluster.js";
import type { Child } from "../api/k8s.js";
import { childNames } from "../api/names.js";
import { connectionSecretName } from "../api/user.js";

/** Component label of a connection Secret. */
export const COMPONENT_CONNECTION = "connection";

export interface ConnectionSecretInput {
  /** metadata.name of the MySQLUser. */
  owner: string;
  namespace: string;
  clusterName: string;
  flavor: Flavor;
  username: string;
  password: string;
  /** The schema, when the grants name exactly one. */
  database: string | undefined;
}

/** The keys and their values (plain text). */
export function connectionValues(input: ConnectionSecretInput): Record<string, string> {
  const names = childNames(input.clusterName);
  const host = `${names.readWrite}.${input.namespace}.svc`;
  const readOnlyHost = `${names.readOnly}.${input.namespace}.svc`;
  const port = String(MYSQL_PORT);
  const path = input.database !== undefined ? `/${encodeURIComponent(input.database)}` : "/";
  const uri = `mysql://${encodeURIComponent(input.username)}:${encodeURIComponent(input.password)}@${host}:${port}${path}`;
  const jdbcUrl = `jdbc:${input.flavor === "mariadb" ? "mariadb" : "mysql"}://${host}:${port}${path}`;
  return {
    host,
    port,
    ...(input.database !== undefined ? { database: input.database } : {}),
    username: input.username,
    password: input.password,
    uri,
    jdbcUrl,
    readOnlyHost,
  };
}

/** The Secret child (data base64, keys sorted). */
export function buildConnectionSecret(input: ConnectionSecretInput): Child {
  const values = connectionValues(input);
  const data: Record<string, string> = {};
  for (const key of Object.keys(values).sort()) data[key] = Buffer.from(values[key]!, "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: connectionSecretName(input.owner),
      labels: { [LABEL_COMPONENT]: COMPONENT_CONNECTION, [LABEL_INSTANCE]: input.clusterName, [LABEL_MANAGED_BY]: MANAGED_BY },
    },
    type: "Opaque",
    data,
  };
}
