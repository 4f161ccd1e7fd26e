/**
 * The local API server's discovery (kinds.ts: the shipped CRDs, kubectl names, printer-column
 * tables), its admission of a file's documents (documents.ts: all or nothing, Secrets'
 * stringData folded, CRD schemas checked for any custom kind) and the generic loading of
 * CompositeControllers (a new parent kind needs only its CRD and controller manifest).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  builtinKinds,
  formatAge,
  formatTable,
  KindCatalog,
  type KindInfo,
  kustomizationResources,
  loadCrdKinds,
  objectTable,
} from "../../src/local/apiserver/kinds.js";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import { admitDocuments } from "../../src/local/control/documents.js";
import { parseCompositeControllers } from "../../src/local/metacontroller/controller-config.js";
import { RESOURCE_KINDS } from "../../src/local/apiserver/objects.js";

const ROOT = join(import.meta.dirname, "../..");
const shipped = new KindCatalog([...builtinKinds(), ...loadCrdKinds(join(ROOT, "deploy/crds"))]);

/** A catalog with an extra custom kind, as a CRD another part of the project could add. */
const widget: KindInfo = {
  apiVersion: "metamysql.dev/v1alpha1",
  kind: "MySQLWidget",
  plural: "mysqlwidgets",
  singular: "mysqlwidget",
  shortNames: ["myw"],
  custom: true,
  columns: [{ name: "SIZE", jsonPath: ".spec.size" }],
  schema: {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object", properties: { name: { type: "string", maxLength: 10 } } },
      spec: { type: "object", required: ["size"], properties: { size: { type: "integer", minimum: 1 } } },
      status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
  },
};
const catalog = new KindCatalog([...shipped.kinds, widget]);
const accepted = ["mysqlclusters", "mysqlbackups", "mysqlwidgets", "secrets", "persistentvolumeclaims"].map((r) => catalog.byResource(r) as KindInfo);
const ctx = (store = new ObjectStore()) => ({ catalog, accepted, namespace: "default", store });

function admitError(docs: unknown[]): string {
  try {
    admitDocuments(docs, ctx());
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error("admitted");
}

const cluster = { apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLCluster", metadata: { name: "shop" }, spec: { flavor: "mariadb", instances: 1 } };

describe("local API server discovery", () => {
  it("knows the shipped CRDs (every file deploy/crds/kustomization.yaml lists) and kubectl's names", () => {
    expect(kustomizationResources(join(ROOT, "deploy/crds")).length).toBe(loadCrdKinds(join(ROOT, "deploy/crds")).length);
    for (const name of ["myc", "mysqlcluster", "mysqlclusters", "MySQLCluster", "mysqlclusters.metamysql.dev"])
      expect(shipped.resolve(name)?.kind).toBe("MySQLCluster");
    expect(shipped.resolve("myb")?.kind).toBe("MySQLBackup");
    expect(shipped.resolve("pvc")?.kind).toBe("PersistentVolumeClaim");
    expect(shipped.resolve("svc")?.kind).toBe("Service");
    expect(shipped.resolve("sts")?.kind).toBe("StatefulSet");
    expect(shipped.resolve("widgets")).toBeUndefined();
  });

  it("prints a CRD's printer columns, ages like kubectl, and built-in kinds' columns", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    const obj = {
      apiVersion: "metamysql.dev/v1alpha1",
      kind: "MySQLCluster",
      metadata: { name: "shop", creationTimestamp: "2026-01-01T11:55:00Z" },
      spec: { instances: 3 },
      status: { state: "Healthy", currentPrimary: "shop-1", readyInstances: 2 },
    };
    const table = objectTable(shipped.resolve("myc") as KindInfo, [obj], { now });
    expect(table).toEqual({ columns: ["NAME", "STATE", "PRIMARY", "READY", "INSTANCES", "AGE"], rows: [["shop", "Healthy", "shop-1", "2", "3", "5m"]] });
    expect(formatTable(table)).toBe("NAME   STATE     PRIMARY   READY   INSTANCES   AGE\nshop   Healthy   shop-1    2       3           5m\n");
    expect([formatAge("2026-01-01T11:59:30Z", now), formatAge("2026-01-01T09:00:00Z", now), formatAge("2025-12-25T12:00:00Z", now)]).toEqual([
      "30s",
      "3h",
      "7d",
    ]);
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s", creationTimestamp: "2026-01-01T11:59:00Z" },
      type: "Opaque",
      data: { a: "", b: "" },
    };
    expect(objectTable(shipped.resolve("secrets") as KindInfo, [secret], { now }).rows).toEqual([["s", "Opaque", "2", "60s"]]);
  });
});

describe("admission of a file's documents", () => {
  it("folds a Secret's stringData into data (base64, stringData wins) and fills the namespace", () => {
    const [secret] = admitDocuments(
      [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "app" },
          data: { a: Buffer.from("x").toString("base64"), b: "eA==" },
          stringData: { b: "plain" },
        },
      ],
      ctx(),
    );
    expect(secret).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app", namespace: "default" },
      type: "Opaque",
      data: { a: "eA==", b: Buffer.from("plain").toString("base64") },
    });
  });

  it("fails the whole file, naming every bad document and why", () => {
    const message = admitError([
      cluster,
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "UPPER" }, data: { k: "not base64!" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "elsewhere", namespace: "prod" } },
      { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "claim" }, spec: { accessModes: ["ReadWriteSometimes"] } },
      { apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLCluster", metadata: { name: "bad" }, spec: { instances: 0 } },
      { apiVersion: "metamysql.dev/v1", kind: "MySQLBackup", metadata: { name: "b" } },
    ]);
    expect(message).toMatch(/^nothing applied:/);
    expect(message).not.toMatch(/document 1 /);
    expect(message).toMatch(
      /document 2 \(ConfigMap cm\): unknown kind ConfigMap \(apiVersion v1\): the local runtime accepts MySQLCluster, MySQLBackup, MySQLWidget \(metamysql\.dev\/v1alpha1\); Secret, PersistentVolumeClaim \(v1\)/,
    );
    expect(message).toMatch(/document 3 \(Secret UPPER\): metadata\.name "UPPER": must be a lower-case DNS-1123 subdomain.*data\.k: must be base64/);
    expect(message).toMatch(/document 4 \(Secret elsewhere\): metadata\.namespace "prod": this state dir holds namespace "default" only/);
    expect(message).toMatch(
      /document 5 \(PersistentVolumeClaim claim\): spec\.accessModes: "ReadWriteSometimes" is not one of.*spec\.resources\.requests\.storage: required/,
    );
    expect(message).toMatch(/document 6 \(MySQLCluster bad\): spec\.instances/);
    expect(message).toMatch(/document 7 \(MySQLBackup b\): MySQLBackup must have apiVersion metamysql\.dev\/v1alpha1, not metamysql\.dev\/v1/);
  });

  it("validates any custom kind against its CRD schema (no code for the kind)", () => {
    expect(admitDocuments([{ apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLWidget", metadata: { name: "w" }, spec: { size: 2 } }], ctx())).toHaveLength(1);
    const message = admitError([
      { apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLWidget", metadata: { name: "w" }, spec: { size: 0, colour: "red" } },
      { apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLWidget", metadata: { name: "a-very-long-name" } },
    ]);
    expect(message).toMatch(/document 1 \(MySQLWidget w\): spec\.size: must be >= 1; spec\.colour: unknown field/);
    expect(message).toMatch(/document 2 \(MySQLWidget a-very-long-name\): spec: required; metadata\.name: longer than 10/);
  });

  it("keeps a claim's spec immutable except its request, and refuses an object being deleted", () => {
    const store = new ObjectStore();
    const claim = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "c" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    };
    store.create(admitDocuments([claim], ctx(store))[0] as never);
    expect(admitDocuments([{ ...claim, spec: { ...claim.spec, resources: { requests: { storage: "2Gi" } } } }], ctx(store))).toHaveLength(1);
    expect(() => admitDocuments([{ ...claim, spec: { ...claim.spec, accessModes: ["ReadWriteMany"] } }], ctx(store))).toThrow(/immutable after creation/);
    store.create({ ...cluster, metadata: { name: "going", finalizers: ["x"] } });
    store.delete("metamysql.dev/v1alpha1", "MySQLCluster", "default", "going");
    expect(() => admitDocuments([{ ...cluster, metadata: { name: "going" } }], ctx(store))).toThrow(/MySQLCluster going is being deleted/);
  });
});

describe("CompositeControllers loaded generically", () => {
  it("resolves a new parent kind through the CRDs, with hooks under the local URL", () => {
    const text = `apiVersion: metacontroller.k8s.io/v1alpha1
kind: CompositeController
metadata: { name: metamysql-mysqlwidget }
spec:
  parentResource: { apiVersion: metamysql.dev/v1alpha1, resource: mysqlwidgets }
  hooks:
    customize: { webhook: { url: "http://hooks.example/hooks/mysqlwidget/customize" } }
    sync: { webhook: { url: "http://hooks.example/hooks/mysqlwidget/sync", timeout: 5s } }
    finalize: { webhook: { url: "http://hooks.example/hooks/mysqlwidget/finalize" } }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ignored }
`;
    const kinds: Record<string, string> = { ...RESOURCE_KINDS, ...catalog.resourceKinds() };
    const [cc, ...rest] = parseCompositeControllers(text, "http://127.0.0.1:9/", {}, (r) => kinds[r]);
    expect(rest).toEqual([]);
    expect(cc?.parent).toEqual({ apiVersion: "metamysql.dev/v1alpha1", resource: "mysqlwidgets", kind: "MySQLWidget" });
    expect(cc?.hooks.sync).toEqual({ url: "http://127.0.0.1:9/hooks/mysqlwidget/sync", timeoutMs: 5000 });
    expect(cc?.hooks.finalize?.url).toBe("http://127.0.0.1:9/hooks/mysqlwidget/finalize");
    expect(() => parseCompositeControllers(text.replace("mysqlwidgets", "mysqlgadgets"), "http://x", {}, (r) => kinds[r])).toThrow(
      /unknown resource "mysqlgadgets"/,
    );
  });

  it("runs every controller of the project's metacontroller/ kustomization", () => {
    const files = kustomizationResources(join(ROOT, "metacontroller"));
    expect(files.map((f) => f.split("/").pop())).toContain("mysqlcluster-controller.yaml");
    const kinds: Record<string, string> = { ...RESOURCE_KINDS, ...shipped.resourceKinds() };
    for (const file of files) {
      const ccs = parseCompositeControllers(readFileSync(file, "utf8"), "http://127.0.0.1:9", {}, (r) => kinds[r]);
      expect(ccs.length).toBeGreaterThan(0);
      for (const cc of ccs) expect(shipped.byKind(cc.parent.apiVersion, cc.parent.kind)?.custom).toBe(true);
    }
  });
});
