/**
 * `settings.env`: the operator's constants the container scripts need (src/api/constants.ts, the
 * one definition) and the cluster's flavor, as a shell file in the same ConfigMap as the scripts
 * that source it. Kubernetes swaps all keys of a mounted ConfigMap at once, so scripts and
 * settings always change together: a pod still running an older pod template reads new scripts
 * with matching settings during a rollout (nothing of this lives in the pod's environment, which
 * keeps only per-pod values: POD_NAME, the mount paths, passwords from Secrets).
 */
import { APPS_USER, BACKUP_USER, OPERATOR_USER, PRESTOP_WAIT_SECONDS, PROBE_USER, REPLICATION_USER, SERVER_ID_BASE } from "./constants.js";

/** The ConfigMap key (and file name next to the scripts). */
export const SETTINGS_FILE = "settings.env";

/** Per-cluster settings besides the flavor. */
export interface SettingsOptions {
  /** spec.remoteRoot: root@'%' exists (accounts.sh); otherwise root logs in from inside the pod only. */
  remoteRoot?: boolean;
}

/** The settings the scripts read, by variable name (sorted, deterministic). */
export function settingsValues(flavor: "mysql" | "mariadb", opts: SettingsOptions = {}): Record<string, string> {
  return {
    METAMYSQL_APPS_USER: APPS_USER,
    METAMYSQL_BACKUP_USER: BACKUP_USER,
    METAMYSQL_FLAVOR: flavor,
    METAMYSQL_OPERATOR_USER: OPERATOR_USER,
    METAMYSQL_PRESTOP_WAIT_SECONDS: String(PRESTOP_WAIT_SECONDS),
    METAMYSQL_PROBE_USER: PROBE_USER,
    METAMYSQL_REMOTE_ROOT: opts.remoteRoot === true ? "true" : "false",
    METAMYSQL_REPLICATION_USER: REPLICATION_USER,
    METAMYSQL_SERVER_ID_BASE: String(SERVER_ID_BASE),
  };
}

/** Single-quoted shell word. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The text of settings.env for a flavor (and a cluster's options). */
export function renderSettings(flavor: "mysql" | "mariadb", opts: SettingsOptions = {}): string {
  const lines = [
    "# shellcheck shell=bash",
    "# metamysql settings of the container scripts, rendered by the operator (src/api/settings.ts)",
    "# from src/api/constants.ts and the cluster's flavor; sourced by the scripts next to it.",
    ...Object.entries(settingsValues(flavor, opts)).map(([k, v]) => `${k}=${shellQuote(v)}`),
  ];
  return `${lines.join("\n")}\n`;
}
