/**
 * `metamysql local ...`: run a MySQLCluster on this machine without Kubernetes
 * (ARCHITECTURE.md section 6). `up` runs the runtime in the foreground; `apply`, `get`,
 * `status`, `kill`, `delete` and `trigger` talk to it over the control channel of the state dir.
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
import { readManifestDocuments } from "./manifest.js";
import { stringify } from "yaml";
import { formatTable } from "../local/apiserver/kinds.js";
import type { AppliedObject } from "../local/control/verbs.js";

const USAGE = `usage: metamysql local <verb> [options]

  up [-f FILE] [--state-dir DIR]      run the runtime and its objects on this machine, in the foreground (Ctrl-C
                                      stops it; up again on the same state dir, with or without -f, resumes
                                      every cluster with its data)
      [--namespace NS]                the state dir's one namespace (default: "default", then remembered)
      [--hook-url URL]                use a running hook server instead of starting one in-process
      [--ip-prefix 127.X.Y]           loopback /24 for the pod IPs (default: derived from the state dir)
      [--hook-timeout SECONDS] [--resync-period SECONDS] [--controller FILE]
  apply -f FILE [--state-dir DIR]     create or change objects, like kubectl apply
  get KIND [NAME] [-o json|yaml]      list objects like kubectl get: a table (the CRDs' printer columns), or
                                      the objects; KIND by plural, singular or short name (myc, pods, svc, pvc...)
  status [CLUSTER] [--json]           a cluster's pods, services and credentials (CLUSTER: when there are several)
  kill POD [--signal KILL|STOP|CONT|TERM]
                                      crash (KILL) or hang (STOP, until CONT) an instance
  delete -f FILE | KIND NAME          delete those objects (through their finalize hooks); the runtime keeps running
  delete                              delete every object (each cluster finalized), stop everything, keep the data
  trigger CRONJOB                     run a CronJob now (e.g. a backup schedule: <cluster>-backup-<name>),
                                      like kubectl create job --from=cronjob/CRONJOB

FILE holds YAML documents (--- between them) of kinds MySQLCluster, MySQLBackup, MySQLDatabase,
MySQLUser (every kind a CompositeController of metacontroller/ runs), Secret (data, stringData)
and PersistentVolumeClaim; an unknown kind or an invalid document fails the whole file and
nothing is applied. Every verb but up talks to the running up of --state-dir, which defaults
to $METAMYSQL_STATE_DIR or ./.state/local.
`;

const OPTIONS = {
  file: { type: "string", short: "f" },
  "state-dir": { type: "string" },
  namespace: { type: "string", short: "n" },
  "hook-url": { type: "string" },
  "ip-prefix": { type: "string" },
  "hook-timeout": { type: "string" },
  "resync-period": { type: "string" },
  controller: { type: "string" },
  json: { type: "boolean" },
  output: { type: "string", short: "o" },
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
        const documents = await readManifestDocuments(values.file);
        const res = (await controlRequest(stateLayout(stateDir), "POST", "/apply-documents", { documents })) as { applied: AppliedObject[] };
        for (const a of res.applied) process.stdout.write(`${a.ref} ${a.action}\n`);
        return 0;
      }
      case "get": {
        const [kind, name, extra] = positionals;
        if (!kind) return usageError("get needs a KIND (e.g. mysqlclusters, pods, secrets)");
        if (extra !== undefined) return usageError("get takes KIND and at most one NAME");
        const output = values.output;
        if (output !== undefined && !["json", "yaml", "wide", "name"].includes(output))
          return usageError(`unsupported output format "${output}": use json, yaml or name`);
        const query = new URLSearchParams({ kind, ...(name ? { name } : {}) });
        const res = (await controlRequest(stateLayout(stateDir), "GET", `/get?${query.toString()}`)) as {
          kind: string;
          apiVersion: string;
          namespace: string;
          items: Array<Record<string, unknown> & { metadata: { name: string } }>;
          table: { columns: string[]; rows: string[][] };
        };
        const value = name ? res.items[0] : { apiVersion: "v1", kind: "List", items: res.items, metadata: { resourceVersion: "" } };
        if (output === "json") process.stdout.write(`${JSON.stringify(value, null, 4)}\n`);
        else if (output === "yaml") process.stdout.write(stringify(value, { lineWidth: 0 }));
        else if (output === "name") for (const o of res.items) process.stdout.write(`${res.kind.toLowerCase()}/${o.metadata.name}\n`);
        else if (res.items.length === 0) process.stderr.write(`No resources found in ${res.namespace} namespace.\n`);
        else process.stdout.write(formatTable(res.table));
        return 0;
      }
      case "status": {
        if (positionals.length > 1) return usageError("status takes at most one CLUSTER");
        const query = new URLSearchParams({ ...(values.json ? {} : { detail: "1" }), ...(positionals[0] ? { cluster: positionals[0] } : {}) }).toString();
        const st = (await controlRequest(stateLayout(stateDir), "GET", `/status${query ? `?${query}` : ""}`)) as LocalStatus & {
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
        if (values.file) {
          if (positionals.length > 0) return usageError("delete takes -f FILE or KIND NAME, not both");
          const documents = await readManifestDocuments(values.file);
          const res = (await controlRequest(stateLayout(stateDir), "POST", "/delete-documents", { documents })) as {
            results: Array<{ ref: string; deleted: boolean; error?: string }>;
          };
          for (const r of res.results) {
            if (r.deleted) process.stdout.write(`${r.ref} deleted\n`);
            else process.stderr.write(`error: ${r.error ?? `${r.ref} not deleted`}\n`);
          }
          return res.results.every((r) => r.deleted) ? 0 : 1;
        }
        if (positionals.length > 0) {
          const [kind, name, extra] = positionals;
          if (!kind || !name || extra !== undefined) return usageError("delete takes KIND NAME (or -f FILE, or nothing for everything)");
          const res = (await controlRequest(stateLayout(stateDir), "POST", "/delete-object", { kind, name })) as { deleted: string };
          process.stdout.write(`${res.deleted} deleted\n`);
          return 0;
        }
        process.stdout.write("deleting every object (finalize hooks, then every instance stops; data dirs are kept)...\n");
        await controlRequest(stateLayout(stateDir), "POST", "/delete");
        process.stdout.write("everything deleted\n");
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
  const documents = file ? await readManifestDocuments(file) : undefined;
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
    ...(typeof values.namespace === "string" ? { namespace: values.namespace } : {}),
    onEvent: (ev) => {
      print(ev);
      const cluster = ev.source.startsWith("cluster ") ? ev.source.slice("cluster ".length) : undefined;
      if (ev.reason === "AllReady" && cluster) setImmediate(() => printConnectInfo(runtime, cluster, stateDir, Date.now() - started));
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
    const existing = runtime.clusters();
    if (documents) {
      for (const a of await runtime.applyDocuments(documents)) {
        print({ time: new Date(), source: "runtime", reason: "Applied", message: `${a.ref} ${a.action}`, level: "info" });
      }
    } else if (!runtime.acceptedKinds.some((k) => runtime.store.list({ apiVersion: k.apiVersion, kind: k.kind }).length > 0)) {
      throw new Error(`state dir ${stateDir} holds no objects: pass -f FILE`);
    }
    for (const c of existing) {
      print({ time: new Date(), source: "runtime", reason: "Resume", message: `resuming cluster ${c.metadata.name}`, level: "info" });
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

function printConnectInfo(runtime: LocalRuntime, name: string, stateDir: string, elapsedMs: number): void {
  let st: LocalStatus;
  try {
    st = runtime.status(name);
  } catch {
    return; // deleted meanwhile
  }
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
  const several = runtime.clusters().length > 1;
  const named = several ? ` ${name}` : "";
  if (st.credentials) lines.push(`  password of ${user.padEnd(10)} metamysql local status${named}${dirFlag} --json   (credentials.password)`);
  lines.push(`  status                 metamysql local status${named}${dirFlag}`);
  lines.push(`  stop                   Ctrl-C (data kept, "up" resumes) or: metamysql local delete${several ? ` mysqlcluster ${name}` : ""}${dirFlag}`);
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
