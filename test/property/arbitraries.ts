/**
 * fast-check arbitraries for Metacontroller hook requests (test/property): specs shaped like the
 * zod schemas of src/api (cluster.ts, backup.ts, metacontroller.ts, k8s.ts), mutated with hostile
 * values (strings, numbers JSON.stringify cannot write, `__proto__`/`constructor` keys, missing and
 * extra fields), plus random garbage.
 *
 * Requests are JSON text: `__proto__` keys are own properties (defined, never assigned) and numbers
 * such as 1e400 are written as raw tokens (`raw()`), so the server parses exactly what a hostile
 * client could send.
 */
import fc from "fast-check";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Pod IPs: loopback addresses where nothing listens, so every probe is refused at once. */
export const POD_IP_PREFIX = "127.10.250.";
export const POD_IP_RE = /^127\.10\.250\.([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$/;

/** Defines an own, enumerable property (works for `__proto__`, which assignment would not create). */
export function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** An object from entries, every key an own property (including `__proto__`). */
export function own(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of entries) put(out, k, v);
  return out;
}

const RAW_MARK = "\u0001raw:";

/** A number literal JSON.stringify cannot produce (1e400, 30 digits, -0): written raw into the request text. */
export function raw(token: string): string {
  return `${RAW_MARK}${token}\u0001`;
}

/** JSON text of a request, with `raw()` markers replaced by their tokens. */
export function toJsonText(value: unknown): string {
  // Only values: a marker used as an object key stays a (strange) string.
  return JSON.stringify(value).replace(/"\\u0001raw:([-+.0-9eE]+)\\u0001"(?!\s*:)/g, "$1");
}

/** A deep copy keeping `__proto__` keys as own properties (JSON.parse defines them). */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export const DANGEROUS_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "isPrototypeOf"];

const hostileConstants = [
  "",
  " ",
  "__proto__",
  "constructor",
  "prototype",
  "null",
  "undefined",
  "NaN",
  "../../../etc/passwd",
  "/dev/zero",
  "'; DROP DATABASE mysql; --",
  '" OR 1=1 --',
  "\\",
  '"',
  "${jndi:ldap://127.0.0.1/x}",
  "$(reboot)",
  "`id`",
  "%s%n%x",
  "\u0000",
  "a\u0000b",
  "line\nbreak",
  "\r\n",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u2066",
  "💥🧨",
  "Ω≈ç√",
  "{{ .Values }}",
  "<script>alert(1)</script>",
  "127.0.0.1",
  "10.0.0.1",
  "-1",
  "1e400",
  "0x10",
  "9".repeat(400),
  "x".repeat(5000),
  "@daily",
  "* * * * *",
  "61 25 32 13 8",
  "0 0 31 2 *",
  "shop",
  "shop-0",
  "shop-credentials",
  "mysql",
  "mariadb",
  "10Gi",
  "-10Gi",
  "1e3Gi",
  "default",
  "kube-system",
  "metamysql.dev/v1alpha1",
  "MySQLCluster",
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...hostileConstants) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom(...DANGEROUS_KEYS) },
);

const rawNumbers = ["1e400", "-1e400", "1e-400", "-0", "123456789012345678901234567890", "-9007199254740993", "0.1e1", "1E+2", "4.9e-324"];

export const hostileNumber: fc.Arbitrary<number | string> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2.5, -0.5, 10, 99, 100, 3306, 65536, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e308, -1e308, 5e-324),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(...rawNumbers).map(raw),
);

/** An object whose keys include `__proto__`/`constructor` (own properties) with polluting values. */
export const protoObject: fc.Arbitrary<Record<string, Json>> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...DANGEROUS_KEYS), fc.string({ maxLength: 8 })),
      fc.oneof(
        fc.constant(own([["polluted", "yes"]])),
        fc.constant(own([["prototype", own([["polluted", "yes"]])]])),
        fc.constant(own([["toString", "not a function"]])),
        fc.constant("polluted"),
        fc.constant(null),
        fc.constant([] as Json[]),
      ),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((entries) => own(entries as Array<[string, Json]>));

const leaf: fc.Arbitrary<Json> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([] as Json[]),
  fc.constant({} as Record<string, Json>),
);

/** Any hostile JSON value, nested a little. */
export const hostileValue: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 4, arbitrary: leaf },
    { weight: 1, arbitrary: protoObject },
    { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 3 }) },
    {
      weight: 1,
      arbitrary: fc.array(fc.tuple(fc.oneof(hostileString, fc.constantFrom(...DANGEROUS_KEYS)), tie("value")), { maxLength: 3 }).map((e) => own(e)),
    },
  ),
})).value;

/** Deeply nested arrays/objects (recursion in parsers and cloners). */
export const deepValue: fc.Arbitrary<Json> = fc.tuple(fc.integer({ min: 50, max: 2500 }), fc.boolean()).map(([depth, arrays]) => {
  let v: Json = "bottom";
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { d: v };
  return v;
});

/**
 * One mutation of a JSON document: walk down `steps` (each picks a child by index modulo the
 * number of children), then set a key (possibly `__proto__`), replace the value, or delete it.
 */
export interface Mutation {
  steps: number[];
  action: "set" | "delete" | "add";
  key: string;
  value: Json;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  steps: fc.array(fc.nat(50), { maxLength: 6 }),
  action: fc.constantFrom("set", "set", "delete", "add"),
  key: fc.oneof(fc.constantFrom(...DANGEROUS_KEYS), hostileString),
  value: fc.oneof({ weight: 20, arbitrary: hostileValue }, { weight: 1, arbitrary: deepValue }),
});

function isContainer(v: unknown): v is Record<string, Json> | Json[] {
  return typeof v === "object" && v !== null;
}

/** Applies mutations to a copy of `doc` (never the original). */
export function mutate<T>(doc: T, mutations: readonly Mutation[]): T {
  const root = { root: clone(doc) as unknown as Json };
  for (const m of mutations) {
    let parent: Record<string, Json> | Json[] = root;
    let key: string | number = "root";
    for (const step of m.steps) {
      const here: Json = Array.isArray(parent) ? (parent[key as number] as Json) : (parent[key as string] as Json);
      if (!isContainer(here)) break;
      const keys: Array<string | number> = Array.isArray(here) ? here.map((_, i) => i) : Object.keys(here);
      if (keys.length === 0) break;
      parent = here;
      key = keys[step % keys.length] as string | number;
    }
    const target: Json = Array.isArray(parent) ? (parent[key as number] as Json) : (parent[key as string] as Json);
    const value = clone(m.value);
    if (m.action === "add" && isContainer(target)) {
      if (Array.isArray(target)) target.push(value);
      else put(target, m.key, value);
    } else if (m.action === "delete" && parent !== root) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else if (Array.isArray(parent)) {
      parent[key as number] = value;
    } else {
      put(parent, key as string, value);
    }
  }
  return root.root as unknown as T;
}

/** Names of Kubernetes objects: mostly plausible, sometimes hostile (never empty: metadata.name is required). */
export const objectName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]$/) },
  { weight: 1, arbitrary: hostileString.filter((s) => s.length > 0) },
);

const storage = fc.oneof(
  fc.record({ persistentVolumeClaim: fc.record({ claimName: fc.constantFrom("backups", "shared-pvc") }) }),
  fc.record({
    s3: fc.record(
      {
        bucket: fc.constantFrom("bkt", "my-backups"),
        prefix: fc.constantFrom("team/a", "x"),
        endpoint: fc.constantFrom("http://127.10.250.1:9000", "https://s3.example.invalid"),
        region: fc.constant("eu-west-1"),
        forcePathStyle: fc.boolean(),
        credentialsSecretName: fc.constantFrom("s3-creds", "s3"),
      },
      { requiredKeys: ["bucket", "credentialsSecretName"] },
    ),
  }),
);

const schedule = fc.record(
  {
    name: fc.constantFrom("nightly", "hourly", "a", "weekly-1"),
    schedule: fc.constantFrom("0 3 * * *", "@daily", "*/15 * * * *", "0 0 31 2 *", "61 * * * *", "0 3 * * * *"),
    timeZone: fc.constantFrom("UTC", "Europe/Paris", "Mars/Olympus"),
    storage,
    compression: fc.constantFrom("gzip", "zstd", "none"),
    keep: fc.integer({ min: 0, max: 1001 }),
    suspend: fc.boolean(),
  },
  { requiredKeys: ["name", "schedule", "storage"] },
);

const PATCH_PATHS = [
  "/metadata/labels/team",
  "/metadata/annotations/x",
  "/metadata/name",
  "/metadata/namespace",
  "/spec/replicas",
  "/spec/template/spec/priorityClassName",
  "/spec/template/spec/containers/0/securityContext/privileged",
  "/spec/template/spec/hostNetwork",
  "/spec/volumeClaimTemplates",
  "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
  "/data/extra.cnf",
  "/spec/type",
  "/spec/externalIPs",
  "/__proto__/polluted",
  "/constructor/prototype/polluted",
  "/metadata/__proto__/polluted",
  "/spec/nope/deeper",
  "",
  "/",
  "/-",
  "/spec/template/spec/containers/-",
];

const patchOp = fc.record(
  {
    op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test"),
    path: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PATCH_PATHS) }, { weight: 1, arbitrary: hostileString }),
    from: fc.constantFrom(...PATCH_PATHS),
    value: fc.oneof(hostileValue, fc.constantFrom<Json>("ops", 5, true, own([["polluted", "yes"]]))),
  },
  { requiredKeys: ["op", "path"] },
);

const childPatch = fc.record({
  target: fc.record(
    {
      kind: fc.constantFrom("StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "EndpointSlice", "CronJob", "Deployment"),
      name: fc.constantFrom("shop", "shop-ro", "shop-config", "shop-credentials", "other"),
    },
    { requiredKeys: ["kind"] },
  ),
  patch: fc.array(patchOp, { minLength: 1, maxLength: 3 }),
});

/** A MySQLCluster spec shaped like MySQLClusterSpecSchema: every field optional, values mostly valid. */
export const clusterSpec: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    flavor: fc.constantFrom("mysql", "mariadb", "mariadb", "postgres"),
    version: fc.constantFrom("8.4", "11.4", "10.11.9", "latest;rm -rf /"),
    image: fc.constantFrom("registry.example.invalid/mysql:8.4", ""),
    instances: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(0, 10, -1, 2.5)),
    memberWeights: fc.dictionary(fc.constantFrom("0", "1", "2", "5", "8", "9", "__proto__"), fc.integer({ min: -1, max: 101 }), { maxKeys: 3 }),
    storage: fc.record(
      { size: fc.constantFrom("1Gi", "1Gi", "2Gi", "512Mi", "10Gi", "lots"), storageClassName: fc.constantFrom("fast", "standard") },
      { requiredKeys: [] },
    ),
    resources: fc.record({ requests: fc.dictionary(fc.constantFrom("cpu", "memory", "__proto__"), fc.oneof(fc.constantFrom("500m", "1Gi"), fc.integer())) }),
    mysqlConfig: fc.dictionary(
      fc.constantFrom(
        "max_connections",
        "innodb_buffer_pool_size",
        "sql_mode",
        "__proto__",
        "constructor",
        "read_only",
        "loose-skip-log-bin",
        "init_fil",
        "bad key!",
      ),
      fc.oneof(fc.integer({ min: 0, max: 100000 }), fc.constantFrom("ON", "STRICT_TRANS_TABLES", "1\n[mysqld]\ninit_file=/x", "'quoted'")),
      { maxKeys: 3 },
    ),
    durability: fc.constantFrom("lossless", "async", "yolo"),
    failover: fc.record({ enabled: fc.boolean(), delaySeconds: fc.integer({ min: -1, max: 3601 }) }, { requiredKeys: [] }),
    service: fc.record(
      { type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"), annotations: fc.dictionary(fc.string(), fc.string()) },
      { requiredKeys: [] },
    ),
    credentialsSecretName: fc.constantFrom("user-creds", "shop-credentials", "Bad_Name"),
    backups: fc.record(
      {
        schedules: fc.array(schedule, { maxLength: 2 }),
        onDelete: fc.boolean(),
        onDeleteStorage: storage,
      },
      { requiredKeys: [] },
    ),
    initDB: fc.record({ fromBackup: fc.record({ storage, path: fc.constantFrom("shop/nightly/20260101T000000Z", "../x") }) }),
    patches: fc.array(childPatch, { maxLength: 2 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Record<string, Json>>;

/** A MySQLBackup spec shaped like MySQLBackupSpecSchema. */
export const backupSpec: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    clusterName: fc.constantFrom("shop", "other", "Bad Name"),
    storage,
    compression: fc.constantFrom("gzip", "zstd", "none", "lz4"),
    deletionPolicy: fc.constantFrom("Retain", "Delete", "Delete", "Shred"),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Record<string, Json>>;

/** Random JSON garbage for whole request bodies. */
export const garbageBody: fc.Arbitrary<unknown> = fc.oneof(
  hostileValue,
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      parent: hostileValue,
      children: hostileValue,
      related: hostileValue,
      finalizing: hostileValue,
      controller: hostileValue,
    },
    { requiredKeys: [] },
  ),
  protoObject,
);
