/**
 * `metamysql agent serve|clone` (src/agent/server.ts, clone.ts): settings from the environment
 * the pod template sets (src/render/statefulset.ts); secrets only as files (the token, the
 * backup account's password), never argv or env.
 */
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { AGENT_DONORS_FILE, AGENT_PORT, BACKUP_USER, SECRET_AGENT_TOKEN, SECRET_BACKUP_PASSWORD } from "../api/constants.js";
import { readToken } from "./auth.js";
import { cloneInto, isFreshDataDir, parseDonors, type Donor } from "./clone.js";
import { watchRebuild } from "./rebuild.js";
import { jsonLog } from "./log.js";
import { startAgentServer } from "./server.js";

const EnvSchema = z.object({
  POD_NAME: z.string().default(""),
  POD_IP: z.string().default(""),
  METAMYSQL_BIND_ADDRESS: z.string().default(""),
  METAMYSQL_FLAVOR: z.enum(["mysql", "mariadb"]),
  METAMYSQL_AGENT_PORT: z.coerce.number().int().min(1).max(65535).default(AGENT_PORT),
  METAMYSQL_AGENT_TOKEN_DIR: z.string().min(1),
  METAMYSQL_DATA_DIR: z.string().default("/var/lib/mysql"),
  METAMYSQL_CONFIG_DIR: z.string().default("/etc/metamysql"),
  METAMYSQL_RUN_DIR: z.string().default("/run/mysqld"),
  METAMYSQL_BACKUP_CREDENTIALS_DIR: z.string().default("/etc/metamysql-backup-credentials"),
  METAMYSQL_MARIADB_BACKUP: z.string().default("mariadb-backup"),
  METAMYSQL_MBSTREAM: z.string().default("mbstream"),
  METAMYSQL_MARIADB_BINLOG: z.string().default("mariadb-binlog"),
  METAMYSQL_CLONE_PREPARE_MEMORY: z
    .string()
    .regex(/^\d+[KMG]?$/)
    .default("256M"),
  TMPDIR: z.string().default(""),
});

const USAGE = "usage: metamysql agent serve|clone (settings from the environment: see src/agent/cli.ts)\n";

/** The donors the hook listed (ConfigMap file agent-donors), this pod excluded. */
function readDonors(configDir: string, port: number, self: string): Donor[] {
  let text = "";
  try {
    text = readFileSync(join(configDir, AGENT_DONORS_FILE), "utf8");
  } catch {
    // no donors file: a first start
  }
  return parseDonors(text, port).filter((d) => d.pod !== self);
}

/** Runs `metamysql agent <verb>`; returns the exit code (serve runs until SIGTERM). */
export async function runAgent(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const verb = argv[0];
  if (verb !== "serve" && verb !== "clone") {
    process.stderr.write(USAGE);
    return 2;
  }
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    process.stderr.write(`metamysql agent: bad settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}\n`);
    return 2;
  }
  const e = parsed.data;
  const log = jsonLog(`metamysql-agent ${verb}${e.POD_NAME ? ` ${e.POD_NAME}` : ""}`);
  const tokenFile = join(e.METAMYSQL_AGENT_TOKEN_DIR, SECRET_AGENT_TOKEN);
  if (verb === "serve") {
    const server = await startAgentServer({
      address: e.POD_IP || e.METAMYSQL_BIND_ADDRESS || "0.0.0.0",
      port: e.METAMYSQL_AGENT_PORT,
      flavor: e.METAMYSQL_FLAVOR,
      tokenFile,
      dataDir: e.METAMYSQL_DATA_DIR,
      socket: join(e.METAMYSQL_RUN_DIR, "mysqld.sock"),
      myCnf: join(e.METAMYSQL_CONFIG_DIR, "my.cnf"),
      backupUser: BACKUP_USER,
      backupPasswordFile: join(e.METAMYSQL_BACKUP_CREDENTIALS_DIR, SECRET_BACKUP_PASSWORD),
      tmpDir: e.TMPDIR || tmpdir(),
      mariadbBackup: e.METAMYSQL_MARIADB_BACKUP,
      mariadbBinlog: e.METAMYSQL_MARIADB_BINLOG,
      log,
    });
    const stopWatching =
      e.METAMYSQL_FLAVOR === "mariadb"
        ? watchRebuild({
            dataDir: e.METAMYSQL_DATA_DIR,
            donors: () => readDonors(e.METAMYSQL_CONFIG_DIR, e.METAMYSQL_AGENT_PORT, e.POD_NAME),
            token: () => readToken(tokenFile),
            mbstream: e.METAMYSQL_MBSTREAM,
            mariadbBackup: e.METAMYSQL_MARIADB_BACKUP,
            prepareMemory: e.METAMYSQL_CLONE_PREPARE_MEMORY,
            log,
          })
        : () => undefined;
    await new Promise<void>((resolve) => {
      const stop = () => {
        stopWatching();
        server.close(() => resolve());
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
    return 0;
  }
  // clone: only a fresh data dir, only MariaDB; every failure falls back to the logical path (exit 0).
  if (e.METAMYSQL_FLAVOR !== "mariadb") {
    log("info", "flavor mysql: no physical copy through the agent; the entrypoint initializes");
    return 0;
  }
  if (!isFreshDataDir(e.METAMYSQL_DATA_DIR)) {
    log("info", "the data dir is not fresh: nothing to clone");
    return 0;
  }
  const donors = readDonors(e.METAMYSQL_CONFIG_DIR, e.METAMYSQL_AGENT_PORT, e.POD_NAME);
  if (donors.length === 0) {
    log("info", "no donor to clone from: the entrypoint initializes (from a backup, or empty)");
    return 0;
  }
  const token = readToken(tokenFile);
  if (token === undefined) {
    log("warn", "no agent token mounted: not cloning; the entrypoint initializes");
    return 0;
  }
  const result = await cloneInto({
    dataDir: e.METAMYSQL_DATA_DIR,
    donors,
    token,
    mbstream: e.METAMYSQL_MBSTREAM,
    mariadbBackup: e.METAMYSQL_MARIADB_BACKUP,
    prepareMemory: e.METAMYSQL_CLONE_PREPARE_MEMORY,
    log,
  });
  if (!result) log("warn", "no donor could be cloned: falling back to the logical path (the entrypoint initializes)");
  return 0;
}
