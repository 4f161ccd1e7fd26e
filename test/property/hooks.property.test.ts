/**
 * Property-based tests of the six hook endpoints (issue 10, "Proven, not hoped"): fast-check
 * generates Metacontroller requests (specs shaped like the zod schemas and mutated with hostile
 * strings, huge numbers, `__proto__`/`constructor` keys, missing and extra fields; random observed
 * children and pods; random garbage) and posts them over real HTTP to one in-process hook server.
 * More than 10,000 requests per run, split across the properties below (RUNS).
 *
 * Every answer must be what ARCHITECTURE.md section 4 specifies: 200 with a response
 * Metacontroller accepts, 400 with a JSON error for a malformed request, or 500 with a text
 * reason for an internal failure (here: the MySQL operations, whose servers refuse connections),
 * never anything else, never a crash. On top of that:
 * - an invalid spec returns every observed child unchanged (deep-equal, modulo the server-owned
 *   fields src/api/unchanged.ts strips);
 * - a valid sync keeps every observed StatefulSet, Secret and PVC-bearing child it renders (the
 *   claim templates too); a MySQLBackup sync keeps every observed child;
 * - no password of the request's Secrets appears in a 400 or 500 body, or in a status;
 * - `__proto__`/`constructor` keys never reach Object.prototype;
 * - finalize never answers `finalized: true` unless the request is finalizing.
 *
 * Pods' IPs are loopback addresses where nothing listens (127.10.250.x), so every probe is
 * refused at once and a run stays bounded. fast-check prints the seed and the counterexample of
 * a failure; replay with `{ seed, path }` in the failing property's parameters.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { CustomizeResponseSchema, SyncResponseSchema } from "../../src/api/metacontroller.js";
import { garbageBody, hostileString, toJsonText } from "./arbitraries.js";
import {
  backupRequest,
  baselines,
  buildBackupRequest,
  buildClusterRequest,
  clusterRequest,
  customizeOnly,
  post,
  request,
  startServer,
  type Answer,
  type Baseline,
  type HookServer,
} from "./world.js";

/** Runs per property; the total is at least 10,000 requests per CI run. */
const RUNS = {
  clusterSync: 2000,
  clusterFinalize: 800,
  clusterCustomize: 1000,
  backupSync: 1000,
  backupFinalize: 700,
  backupCustomize: 800,
  garbage: 3000,
  malformedText: 700,
} as const;

/** Generous: bounded work, but 2 loaded cores. Not a timed assertion: it only stops a hung run. */
const TIMEOUT_MS = 300_000;

const LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration";
const SERVER_OWNED_METADATA = [
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "ownerReferences",
  "selfLink",
  "finalizers",
];

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);

let server: HookServer;
let bases: Baseline[];
const prototypes = () =>
  [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join(",")).join("|");
const pristine = prototypes();

beforeAll(async () => {
  server = await startServer();
  bases = await baselines(server);
});

afterEach(async () => {
  await assertAlive(true);
});

afterAll(async () => {
  await server?.close();
});

/** Property (4): nothing was added to the shared prototypes. */
function assertNoPollution(): void {
  if (prototypes() !== pristine || ({} as Rec)["polluted"] !== undefined) expect(prototypes()).toBe(pristine);
}

let requests = 0;

/** Property (1): the server still answers (checked every 25 requests and after every property). */
async function assertAlive(force = false): Promise<void> {
  if (!force && ++requests % 25 !== 0) return;
  const res = await request(server.url, "GET", "/healthz");
  expect(res.status).toBe(200);
}

/**
 * Flattened `{group: {key: object}}` as the server reads it (objects only; everything else is
 * malformed). zod's record skips a `__proto__` key, at either level, like a missing one.
 */
function flatten(groups: unknown): Rec[] {
  if (!isRec(groups)) return [];
  const out: Rec[] = [];
  for (const g of Object.keys(groups)) {
    const inner = groups[g];
    if (g === "__proto__" || !isRec(inner)) continue;
    for (const k of Object.keys(inner)) if (k !== "__proto__" && isRec(inner[k])) out.push(inner[k]);
  }
  return out;
}

/** Every password of the request's Secrets (children and related): data (decoded) and stringData. */
function passwordsOf(sent: Rec): string[] {
  const out = new Set<string>();
  for (const obj of [...flatten(sent["children"]), ...flatten(sent["related"])]) {
    if (obj["kind"] !== "Secret") continue;
    for (const field of ["data", "stringData"]) {
      const values = obj[field];
      if (!isRec(values)) continue;
      for (const v of Object.values(values)) {
        if (typeof v !== "string") continue;
        const plain = field === "data" ? Buffer.from(v, "base64").toString("utf8") : v;
        // Generated passwords are 32 alphanumerics; the user Secret's carry the marker `pw-`.
        if (/^[A-Za-z0-9]{32}$/.test(plain) || (plain.startsWith("pw-") && plain.length >= 13)) {
          out.add(plain);
          out.add(JSON.stringify(plain).slice(1, -1));
          if (field === "data") out.add(v);
        }
      }
    }
  }
  return [...out];
}

/** Property (1) and (3) for any answer; returns the parsed JSON body of a 200. */
function checkAnswer(res: Answer, sent: Rec | undefined, allowed: readonly number[]): unknown {
  expect(allowed).toContain(res.status);
  const passwords = sent ? passwordsOf(sent) : [];
  if (res.status === 400) {
    expect(res.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(res.text) as Rec;
    expect(typeof body["error"]).toBe("string");
  } else if (res.status === 500) {
    expect(res.contentType).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^metamysql /);
  }
  if (res.status !== 200) {
    for (const p of passwords) expect(res.text.includes(p), "a request password appears in the error body").toBe(false);
    return undefined;
  }
  expect(res.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(res.text) as Rec;
  const status = JSON.stringify(body["status"] ?? null);
  for (const p of passwords) expect(status.includes(p), "a request password appears in the status").toBe(false);
  return body;
}

/**
 * What "unchanged" means for an observed child (ARCHITECTURE.md section 4, independent of
 * src/api/unchanged.ts): the last-applied configuration when it is this child's, else the
 * observed object without status and server-owned metadata.
 */
function expectedUnchanged(observed: Rec): unknown {
  const meta = observed["metadata"] as Rec;
  const annotations = isRec(meta["annotations"]) ? meta["annotations"] : {};
  const lastApplied = annotations[LAST_APPLIED];
  if (typeof lastApplied === "string" && lastApplied) {
    try {
      const applied: unknown = JSON.parse(lastApplied);
      if (
        isRec(applied) &&
        typeof applied["apiVersion"] === "string" &&
        applied["kind"] === observed["kind"] &&
        isRec(applied["metadata"]) &&
        applied["metadata"]["name"] === meta["name"]
      ) {
        return applied;
      }
    } catch {
      // not JSON: the observed object
    }
  }
  const copy: Rec = { ...observed };
  delete copy["status"];
  const copyMeta: Rec = { ...meta };
  for (const k of SERVER_OWNED_METADATA) delete copyMeta[k];
  copy["metadata"] = copyMeta;
  return copy;
}

/** JSON text with object keys sorted and `__proto__` keys dropped (zod never copies them). */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(",")}]`;
  if (!isRec(v)) return JSON.stringify(v) ?? "null";
  const keys = Object.keys(v)
    .filter((k) => k !== "__proto__" && v[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(v[k])}`).join(",")}}`;
}

/** Canonical text of a list of objects as the server would serialize them, order-free. */
function canonical(list: readonly unknown[]): string {
  return list
    .map((o) => sortedJson(JSON.parse(JSON.stringify(o))))
    .sort()
    .join("\n");
}

function kn(kind: string, name: string): string {
  return JSON.stringify([kind, name]);
}

function kindName(o: unknown): string {
  const r = o as { kind?: unknown; metadata?: { name?: unknown } };
  return JSON.stringify([r.kind, r.metadata?.name]);
}

function volumeClaimTemplates(o: Rec | undefined): unknown[] | undefined {
  const spec = o?.["spec"];
  const t = isRec(spec) ? spec["volumeClaimTemplates"] : undefined;
  return Array.isArray(t) && t.length > 0 ? t : undefined;
}

/** The observed children a valid spec of cluster `name` renders and must therefore keep. */
function protectedChildren(name: string, spec: unknown, observed: readonly Rec[]): Rec[] {
  const parsed = MySQLClusterSpecSchema.safeParse(spec ?? {});
  const userSecret = parsed.success ? parsed.data.credentialsSecretName : undefined;
  const keep = new Set([kn("StatefulSet", name), kn("Secret", `${name}-backup-credentials`), ...(userSecret ? [] : [kn("Secret", `${name}-credentials`)])]);
  return observed.filter((o) => keep.has(kindName(o)));
}

function parentOf(sent: Rec): { name: string; spec: unknown; finalizing: boolean } {
  const parent = sent["parent"] as Rec;
  return { name: (parent["metadata"] as Rec)["name"] as string, spec: parent["spec"], finalizing: sent["finalizing"] === true };
}

describe("hooks answer 200, 400 or 500 as specified, for any request (property-based)", () => {
  it(
    "mysqlcluster/sync: invalid spec returns the observed children unchanged; a valid one keeps its StatefulSet, Secrets and claim templates",
    async () => {
      await fc.assert(
        fc.asyncProperty(clusterRequest, async (r) => {
          const { text, sent } = buildClusterRequest(r, bases);
          const res = await post(server.url, "/hooks/mysqlcluster/sync", text);
          const body = checkAnswer(res, sent, [200, 400, 500]) as Rec | undefined;
          assertNoPollution();
          await assertAlive();
          if (!body) return;
          expect(SyncResponseSchema.safeParse(body).success).toBe(true);
          const observed = flatten(sent["children"]);
          const children = body["children"] as Rec[];
          const { name, spec } = parentOf(sent);
          const status = body["status"] as Rec;
          if (!MySQLClusterSpecSchema.safeParse(spec ?? {}).success) expect(status["state"]).toBe("Invalid");
          if (status["state"] === "Invalid") {
            // Property (2), invalid spec: nothing deleted or added, nothing changed but the two
            // children that route clients by role, which follow the primary on the last valid
            // spec (docs/clustering.md "Invalid spec"): the read-write Service and <c>-ro.
            const routing = new Set([kn("Service", name), kn("EndpointSlice", `${name}-ro`)]);
            expect(children.map(kindName).sort()).toEqual(observed.map(kindName).sort());
            const fixed = (objs: unknown[]) => objs.filter((o) => !routing.has(kindName(o as Rec)));
            expect(canonical(fixed(children))).toBe(canonical(fixed(observed.map(expectedUnchanged))));
            return;
          }
          // Property (2), valid spec: the children it renders are kept, by kind and name.
          const returned = new Set(children.map(kindName));
          for (const o of protectedChildren(name, spec, observed)) expect(returned.has(kindName(o)), `${kindName(o)} dropped`).toBe(true);
          // The StatefulSet's claim templates (the data volumes) are sent back as observed.
          const stsObserved = observed.find((o) => kindName(o) === kn("StatefulSet", name));
          const templates = volumeClaimTemplates(stsObserved);
          const parsed = MySQLClusterSpecSchema.safeParse(spec ?? {});
          if (templates && parsed.success && parsed.data.patches.length === 0) {
            const sts = children.find((c) => kindName(c) === kn("StatefulSet", name));
            expect(canonical(volumeClaimTemplates(sts) ?? [])).toBe(canonical(templates));
          }
        }),
        { numRuns: RUNS.clusterSync },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "mysqlcluster/finalize: finalized only when finalizing",
    async () => {
      await fc.assert(
        fc.asyncProperty(clusterRequest, async (r) => {
          const { text, sent } = buildClusterRequest(r, bases);
          const res = await post(server.url, "/hooks/mysqlcluster/finalize", text);
          const body = checkAnswer(res, sent, [200, 400, 500]) as Rec | undefined;
          assertNoPollution();
          await assertAlive();
          if (!body) return;
          expect(SyncResponseSchema.safeParse(body).success).toBe(true);
          if (!parentOf(sent).finalizing) expect(body["finalized"]).not.toBe(true);
        }),
        { numRuns: RUNS.clusterFinalize },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "mysqlcluster/customize: related resources or 400, never 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(clusterRequest, async (r) => {
          const { text, sent } = customizeOnly(buildClusterRequest(r, bases));
          const res = await post(server.url, "/hooks/mysqlcluster/customize", text);
          const body = checkAnswer(res, sent, [200, 400]);
          assertNoPollution();
          await assertAlive();
          if (body) expect(CustomizeResponseSchema.safeParse(body).success).toBe(true);
        }),
        { numRuns: RUNS.clusterCustomize },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "mysqlbackup/sync: every observed child is kept (the script ConfigMap may be re-rendered); never 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(backupRequest, async (r) => {
          const { text, sent } = buildBackupRequest(r);
          const res = await post(server.url, "/hooks/mysqlbackup/sync", text);
          const body = checkAnswer(res, sent, [200, 400]) as Rec | undefined;
          assertNoPollution();
          await assertAlive();
          if (!body) return;
          expect(SyncResponseSchema.safeParse(body).success).toBe(true);
          const returned = new Set((body["children"] as Rec[]).map(kindName));
          for (const o of flatten(sent["children"])) expect(returned.has(kindName(o)), `${kindName(o)} dropped`).toBe(true);
        }),
        { numRuns: RUNS.backupSync },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "mysqlbackup/finalize: finalized only when finalizing; never 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(backupRequest, async (r) => {
          const { text, sent } = buildBackupRequest(r);
          const res = await post(server.url, "/hooks/mysqlbackup/finalize", text);
          const body = checkAnswer(res, sent, [200, 400]) as Rec | undefined;
          assertNoPollution();
          await assertAlive();
          if (!body) return;
          expect(SyncResponseSchema.safeParse(body).success).toBe(true);
          if (!parentOf(sent).finalizing) expect(body["finalized"]).not.toBe(true);
        }),
        { numRuns: RUNS.backupFinalize },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "mysqlbackup/customize: related resources or 400, never 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(backupRequest, async (r) => {
          const { text, sent } = customizeOnly(buildBackupRequest(r));
          const res = await post(server.url, "/hooks/mysqlbackup/customize", text);
          const body = checkAnswer(res, sent, [200, 400]);
          assertNoPollution();
          await assertAlive();
          if (body) expect(CustomizeResponseSchema.safeParse(body).success).toBe(true);
        }),
        { numRuns: RUNS.backupCustomize },
      );
    },
    TIMEOUT_MS,
  );

  const HOOK_PATHS = ["sync", "finalize", "customize"].flatMap((h) => [
    `/hooks/mysqlcluster/${h}`,
    `/hooks/mysqlbackup/${h}`,
    `/hooks/mysqldatabase/${h}`,
    `/hooks/mysqluser/${h}`,
  ]);

  it(
    "random JSON bodies: 400 with a JSON error (or 200 if they happen to be valid), never 500",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...HOOK_PATHS), garbageBody, async (path, garbage) => {
          const text = toJsonText(garbage);
          const res = await post(server.url, path, text);
          const sent = JSON.parse(text) as unknown;
          checkAnswer(res, isRec(sent) ? sent : undefined, isRec(sent) ? [200, 400] : [400]);
          assertNoPollution();
          await assertAlive();
        }),
        { numRuns: RUNS.garbage },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "bodies that are not JSON objects or not JSON at all: 400 with a JSON error",
    async () => {
      const notJson = fc.oneof(
        hostileString.map((s) => `{"parent": ${s}`),
        fc.constantFrom("", "{", "[", "nul", "{'a':1}", '{"a":1,}', "\u0000", "\ufeff", "\ufeff{", '"x"', "1e400", "[]", "null", "true"),
        hostileString,
      );
      const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", undefined);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...HOOK_PATHS), notJson, contentType, async (path, text, type) => {
          const res = await post(server.url, path, text, type);
          // An empty JSON body is `{}`, as body-parser reads it: a malformed request too.
          checkAnswer(res, undefined, [400]);
          assertNoPollution();
          await assertAlive();
        }),
        { numRuns: RUNS.malformedText },
      );
    },
    TIMEOUT_MS,
  );
});

/**
 * Property (5), second half: a finalize call that is not finalizing never drops the StatefulSet
 * (Metacontroller deletes every child missing from the answer, and with it the pods).
 */
describe("mysqlcluster/finalize without finalizing keeps the StatefulSet (property-based)", () => {
  it(
    "never drops an observed StatefulSet unless finalizing",
    async () => {
      await fc.assert(
        fc.asyncProperty(clusterRequest, async (r) => {
          const { text, sent } = buildClusterRequest(r, bases);
          const res = await post(server.url, "/hooks/mysqlcluster/finalize", text);
          const body = checkAnswer(res, sent, [200, 400, 500]) as Rec | undefined;
          if (!body || parentOf(sent).finalizing) return;
          const returned = new Set((body["children"] as Rec[]).map(kindName));
          for (const o of flatten(sent["children"]).filter((c) => c["kind"] === "StatefulSet")) {
            expect(returned.has(kindName(o)), `${kindName(o)} dropped while not finalizing`).toBe(true);
          }
        }),
        { numRuns: 500 },
      );
    },
    TIMEOUT_MS,
  );
});
