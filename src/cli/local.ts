/**
 * `metamysql local ...`: run a MySQLCluster on this machine without Kubernetes
 * (ARCHITECTURE.md section 6). `up` runs the runtime in the foreground; `apply`, `status`,
 * `kill`, `delete` and `trigger` talk to it over the control channel of the state dir.
 */
import { startLocalHookServer } from "./hook-server.js";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { controlRequest } from "../local/control/channel.js";
import type { LocalStatus } from "../local/control/verbs.js";
import type { RuntimeEvent } from "../local/narration.js";
import { LocalRuntime } from "../local/runtime.js";
import { stateLayout } from "../local/node/statedir.js";
import { isRecord, recordField, stringField } from "../local/apiserver/objects.js";
import { readClusterManifest } from "./manifest.js";

const USAGE = `usage: metamysql local <verb> [options]

  up -f FILE [--state-dir DIR]        run the cluster on this machine, in the foreground (Ctrl-C stops it;
                                      run up again on the same state dir to resume with the same data)
      [--hook-url URL]                use a running hook server instead of starting one in-process
      [--ip-prefix 127.X.Y]           loopback /24 for the pod IPs (default: derived from the state dir)
      [--hook-timeout SECONDS] [--resync-period SECONDS] [--controller FILE]
  apply -f FILE [--state-dir DIR]     change the running cluster's spec
  status [--state-dir DIR] [--json]   pods, services and credentials
  kill POD [--signal KILL|STOP|CONT|TERM] [--state-dir DIR]
                                      crash (KILL) or hang (STOP, until CONT) an instance
  delete [--state-dir DIR]            delete the cluster (finalize hook), stop everything, keep the data
  trigger CRONJOB [--state-dir DIR]   run a CronJob now (e.g. a backup schedule: <cluster>-backup-<name>),
                                      like kubectl create job --from=cronjob/CRONJOB

The state dir defaults to $METAMYSQL_STATE_DIR or ./.state/local.
`;

const OPTIONS = {
  file: { type: "string", short: "f" },
  "state-dir": { type: "string" },
  "hook-url": { type: "string" },
  "ip-prefix": { type: "string" },
  "hook-timeout": { type: "string" },
  "resync-period": { type: "string" },
  controller: { type: "string" },
  json: { type: "boolean" },
  signal: { type: "string", short: "s" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `metamysql local <verb> ...`; returns the exit code. */
export async function runLocal(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; args: string[] }>>;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`metamysql local: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || verb === undefined || verb === "help") {
    process.stdout.write(USAGE);
    return verb === undefined ? 2 : 0;
  }
  const stateDir = resolve(values["state-dir"] ?? process.env.METAMYSQL_STATE_DIR ?? ".state/local");
  try {
    switch (verb) {
      case "up":
        return await up(stateDir, values);
      case "apply": {
        if (!values.file) return usageError("apply needs -f FILE");
        const manifest = await readClusterManifest(values.file);
        const obj = await controlRequest(stateLayout(stateDir), "POST", "/apply", manifest);
        const meta = recordField(obj, "metadata");
        process.stdout.write(`mysqlcluster/${String(meta.name)} configured (generation ${String(meta.generation)})\n`);
        return 0;
      }
      case "status": {
        const st = (await controlRequest(stateLayout(stateDir), "GET", values.json ? "/status" : "/status?detail=1")) as LocalStatus & {
          detail?: Array<{ name: string; restarts: number; state: string }>;
        };
        process.stdout.write(values.json ? `${JSON.stringify(st, null, 2)}\n` : formatStatus(st));
        return 0;
      }
      case "kill": {
        const pod = positionals[0];
        if (!pod) return usageError("kill needs a POD name");
        const signal = (values.signal ?? "KILL").toUpperCase();
        await controlRequest(stateLayout(stateDir), "POST", "/kill", { pod, signal });
        process.stdout.write(`sent SIG${signal.replace(/^SIG/, "")} to ${pod}\n`);
        return 0;
      }
      case "delete": {
        process.stdout.write("deleting the cluster (finalize hook, then every instance stops; data dirs are kept)...\n");
        await controlRequest(stateLayout(stateDir), "POST", "/delete");
        process.stdout.write("cluster deleted\n");
        return 0;
      }
      case "trigger": {
        const cronJob = positionals[0];
        if (!cronJob) return usageError("trigger needs a CRONJOB name");
        const res = await controlRequest(stateLayout(stateDir), "POST", "/trigger", { cronJob });
        process.stdout.write(`job/${stringField(res, "job") ?? "?"} created from cronjob/${cronJob}\n`);
        return 0;
      }
      default:
        return usageError(`unknown verb "${verb}"`);
    }
  } catch (err) {
    process.stderr.write(`metamysql local ${verb}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function usageError(message: string): number {
  process.stderr.write(`metamysql local: ${message}\n${USAGE}`);
  return 2;
}

function seconds(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number of seconds`);
  return n;
}

async function up(stateDir: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const file = typeof values.file === "string" ? values.file : undefined;
  const manifest = file ? await readClusterManifest(file) : undefined;
  const started = Date.now();
  const print = (ev: RuntimeEvent): void => {
    const t = new Date(ev.time).toTimeString().slice(0, 8);
    const line = `${t}  ${ev.source.padEnd(22)} ${ev.message}\n`;
    (ev.level === "info" ? process.stdout : process.stderr).write(line);
  };
  const hookTimeout = seconds(values["hook-timeout"] as string | undefined, "--hook-timeout");
  const resync = seconds(values["resync-period"] as string | undefined, "--resync-period");
  const runtime = await LocalRuntime.start({
    stateDir,
    startHookServer: startLocalHookServer,
    ...(typeof values["hook-url"] === "string" ? { hookUrl: values["hook-url"] } : {}),
    ...(typeof values["ip-prefix"] === "string" ? { ipPrefix: values["ip-prefix"] } : {}),
    ...(hookTimeout !== undefined ? { hookTimeoutMs: hookTimeout * 1000 } : {}),
    ...(resync !== undefined ? { resyncPeriodSeconds: resync } : {}),
    ...(typeof values.controller === "string" ? { controllerManifest: values.controller } : {}),
    onEvent: (ev) => {
      print(ev);
      if (ev.reason === "AllReady") setImmediate(() => printConnectInfo(runtime, stateDir, Date.now() - started));
    },
  });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${sig}: stopping every instance (data is kept; "metamysql local up" resumes)...\n`);
      void runtime.stop();
    } else {
      process.stderr.write("still stopping; waiting for the database servers to shut down\n");
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const existing = runtime.cluster();
    if (manifest) {
      await runtime.apply(manifest);
    } else if (!existing) {
      throw new Error(`state dir ${stateDir} holds no cluster: pass -f FILE`);
    } else {
      print({ time: new Date(), source: "runtime", reason: "Resume", message: `resuming cluster ${existing.metadata.name}`, level: "info" });
    }
  } catch (err) {
    process.stderr.write(`metamysql local up: ${err instanceof Error ? err.message : String(err)}\n`);
    await runtime.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return 1;
  }
  await runtime.stopped;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return 0;
}

function printConnectInfo(runtime: LocalRuntime, stateDir: string, elapsedMs: number): void {
  const st = runtime.status();
  const name = st.cluster?.metadata.name ?? "cluster";
  const flavor = stringField(st.cluster, "spec", "flavor") ?? "mysql";
  const client = flavor === "mariadb" ? "mariadb" : "mysql";
  // Never the password itself: it would land in the terminal's scrollback and, pasted, on a
  // command line (ps, shell history). `-p` makes the client ask for it.
  const user = st.credentials?.user ?? "root";
  const lines = ["", `${name} is up: ${st.pods.length} instances ready in ${(elapsedMs / 1000).toFixed(1)}s`];
  const rank = (svc: string): number => (svc === name ? 0 : svc === `${name}-ro` ? 1 : 2);
  const services = Object.entries(st.services).sort((a, b) => rank(a[0]) - rank(b[0]));
  for (const [svc, addr] of services) {
    const [host, port] = addr.split(":");
    const role = svc === name ? "read-write (primary)" : svc === `${name}-ro` ? "read-only (replicas)" : "any instance";
    lines.push(`  ${role.padEnd(22)} ${client} -h ${host} -P ${port} -u ${user} -p    # service ${svc}`);
  }
  const dirFlag = ` --state-dir ${stateDir}`;
  if (st.credentials) lines.push(`  password of ${user.padEnd(10)} metamysql local status${dirFlag} --json   (credentials.password)`);
  lines.push(`  status                 metamysql local status${dirFlag}`);
  lines.push(`  stop                   Ctrl-C (data kept, "up" resumes) or: metamysql local delete${dirFlag}`);
  lines.push("");
  process.stdout.write(`${lines.join("\n")}\n`);
}

function formatStatus(st: LocalStatus & { detail?: Array<{ name: string; restarts: number; state: string }> }): string {
  const out: string[] = [];
  const c = st.cluster;
  if (!c) return "no cluster\n";
  const status = recordField(c, "status");
  out.push(`cluster   ${c.metadata.name}  state ${String(status.state ?? "-")}  primary ${String(status.currentPrimary || "-")}`);
  const msg = stringField(status, "message");
  if (msg) out.push(`          ${msg}`);
  out.push("", "POD".padEnd(14) + "ADDRESS".padEnd(22) + "PID".padEnd(9) + "READY".padEnd(7) + "RESTARTS".padEnd(10) + "STATE");
  for (const p of st.pods) {
    const d = st.detail?.find((x) => x.name === p.name);
    out.push(
      p.name.padEnd(14) +
        `${p.ip}:${p.port}`.padEnd(22) +
        String(p.pid ?? "-").padEnd(9) +
        String(p.ready).padEnd(7) +
        String(d?.restarts ?? 0).padEnd(10) +
        (d?.state ?? ""),
    );
  }
  out.push("", "SERVICE".padEnd(20) + "ADDRESS");
  for (const [svc, addr] of Object.entries(st.services)) out.push(svc.padEnd(20) + addr);
  if (st.credentials) out.push("", `credentials: user ${st.credentials.user} (password: local status --json)`);
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isRecord) : [];
  if (conditions.length) {
    out.push("", "CONDITION".padEnd(14) + "STATUS".padEnd(9) + "REASON");
    for (const cond of conditions) out.push(String(cond.type).padEnd(14) + String(cond.status).padEnd(9) + String(cond.reason ?? ""));
  }
  return `${out.join("\n")}\n`;
}
