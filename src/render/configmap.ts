/**
 * ConfigMap `<c>-config`: my.cnf, the entrypoint (with the account-creation init step) and the
 * probe script. Contains no secrets: passwords reach the scripts through the pod environment.
 */
import { createHash } from "node:crypto";
import type { Cluster } from "../api/cluster.js";
import type { Child } from "../api/k8s.js";
import { childNames, standardLabels } from "../api/names.js";
import { renderMyCnf } from "./mycnf.js";
import { renderSeedScript } from "./backup-script.js";
import { seedsFromBackups } from "./backup-seed.js";
import { renderEntrypoint, renderProbe } from "./scripts.js";

/** The data of the ConfigMap, keyed by file name. */
export function configData(cluster: Cluster): Record<string, string> {
  const seed = seedsFromBackups(cluster);
  return {
    "entrypoint.sh": renderEntrypoint(cluster.spec.flavor, { seed }),
    "my.cnf": renderMyCnf(cluster.spec, cluster.name),
    "probe.sh": renderProbe(cluster.spec.flavor),
    // Seeding from a backup (docs/backups.md); absent otherwise, so other configs are unchanged.
    ...(seed ? { "seed.sh": renderSeedScript() } : {}),
  };
}

/** sha256 of the configuration, put on the pod template so a change rolls the pods. */
export function configHash(data: Record<string, string>): string {
  const h = createHash("sha256");
  for (const key of Object.keys(data).sort()) h.update(`${key}\0${data[key]}\0`);
  return h.digest("hex").slice(0, 16);
}

/** The ConfigMap child. */
export function buildConfigMap(cluster: Cluster, data: Record<string, string>): Child {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: childNames(cluster.name).config, labels: standardLabels(cluster) },
    data,
  };
}
