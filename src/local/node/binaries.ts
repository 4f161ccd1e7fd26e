/**
 * Which database server a container image needs on this machine, and whether it is installed:
 * images named mariadb need `mariadbd`, images named mysql need a real MySQL `mysqld` (on Debian
 * `mysqld` is often MariaDB's alias, which does not count). ARCHITECTURE.md section 6.
 * Also the agent's tools (mariadb-backup, mbstream: the physical copies of src/agent/) and the
 * `metamysql` command of the agent image, which here is this checkout's bin/metamysql.js.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of an executable in PATH or the sbin dirs, or undefined. */
export function findExecutable(name: string, pathEnv: string = process.env.PATH ?? ""): string | undefined {
  for (const dir of [...pathEnv.split(":").filter(Boolean), ...SEARCH_PATH]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

const versionCache = new Map<string, string>();

function versionOf(binary: string): string {
  const cached = versionCache.get(binary);
  if (cached !== undefined) return cached;
  let out: string;
  try {
    out = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    out = "";
  }
  versionCache.set(binary, out);
  return out;
}

/** The flavor an image runs ("mysql" or "mariadb"), from its repository name. */
export function flavorOfImage(image: string): "mysql" | "mariadb" | undefined {
  const repo = (image.split("@")[0] ?? "").replace(/:[^/]*$/, "");
  const base = repo.slice(repo.lastIndexOf("/") + 1);
  if (/mariadb/.test(base)) return "mariadb";
  if (/mysql|percona/.test(base)) return "mysql";
  return undefined;
}

/**
 * Undefined when the server for `flavor` is installed; otherwise a message saying which server
 * is missing and how to get it.
 */
export function missingServerMessage(flavor: "mysql" | "mariadb"): string | undefined {
  if (flavor === "mariadb") {
    if (findExecutable("mariadbd") && findExecutable("mariadb-install-db")) return undefined;
    return (
      "flavor mariadb needs the MariaDB server (mariadbd, mariadb-install-db) on this machine, and it is not installed. " +
      "Run scripts/setup-mariadb.sh (Debian, as root) or install MariaDB server 10.11+ " +
      "(packages mariadb-server mariadb-client mariadb-backup)."
    );
  }
  const mysqld = findExecutable("mysqld");
  if (mysqld) {
    const version = versionOf(mysqld);
    if (version && !/mariadb/i.test(version)) return undefined;
    return (
      `flavor mysql needs MySQL Server 8.x (mysqld), but ${mysqld} is MariaDB (${version.trim().split("\n")[0] ?? "unknown version"}). ` +
      'Install MySQL Server 8.4, or set "flavor: mariadb" in the cluster to run MariaDB.'
    );
  }
  return (
    "flavor mysql needs MySQL Server 8.x (mysqld) on this machine, and it is not installed. " +
    'Install MySQL Server 8.4, or set "flavor: mariadb" to run MariaDB (scripts/setup-mariadb.sh installs it).'
  );
}

/**
 * The `metamysql` command of the agent image (deploy/images/agent/Dockerfile) on this machine:
 * this checkout's bin/metamysql.js run by this node (the built CLI: `npm run build`).
 */
export function metamysqlCommand(): { command: string; args: string[] } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const bin = join(dir, "bin", "metamysql.js");
    if (existsSync(bin)) return { command: process.execPath, args: [bin] };
    dir = dirname(dir);
  }
  throw new Error("bin/metamysql.js not found above " + dirname(fileURLToPath(import.meta.url)));
}

/**
 * Undefined when the MariaDB agent's tools (mariadb-backup, mbstream) are installed; otherwise
 * what is missing (then the agent cannot serve copies and fresh instances take the logical path).
 */
export function missingAgentToolsMessage(pathEnv?: string): string | undefined {
  const missing = ["mariadb-backup", "mbstream"].filter((t) => !findExecutable(t, pathEnv));
  if (missing.length === 0) return undefined;
  return `the agent needs ${missing.join(" and ")} (Debian package mariadb-backup; scripts/setup-mariadb.sh installs it): new replicas are seeded by the logical path`;
}
