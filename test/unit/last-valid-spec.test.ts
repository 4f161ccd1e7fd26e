/**
 * The last valid spec recorded on ConfigMap `<c>-config` (src/api/last-valid-spec.ts): written
 * deterministically, read back only when it is still a valid spec.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { ANNOTATION_SPEC } from "../../src/api/constants.js";
import type { KubeObject } from "../../src/api/k8s.js";
import { lastValidSpec, specAnnotation } from "../../src/api/last-valid-spec.js";

const spec = (raw: unknown) => MySQLClusterSpecSchema.parse(raw);

function configMap(annotation: string | undefined, name = "shop-config"): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...(annotation === undefined ? {} : { annotations: { [ANNOTATION_SPEC]: annotation } }) } };
}

describe("last valid spec", () => {
  it("is the same text whatever the key order of the spec", () => {
    const a = spec({ flavor: "mariadb", instances: 3, storage: { size: "1Gi" }, mysqlConfig: { max_connections: 10, long_query_time: 2 } });
    const b = spec({ mysqlConfig: { long_query_time: 2, max_connections: 10 }, storage: { size: "1Gi" }, instances: 3, flavor: "mariadb" });
    expect(specAnnotation(a)).toBe(specAnnotation(b));
  });

  it("reads back the spec it recorded", () => {
    const s = spec({ flavor: "mariadb", instances: 2, storage: { size: "1Gi" }, memberWeights: { "1": 80 }, failover: { delaySeconds: 9 } });
    expect(lastValidSpec("shop", [configMap(specAnnotation(s))])).toEqual(s);
  });

  it("is undefined when absent, on another cluster's ConfigMap, not JSON, or no longer a valid spec", () => {
    const s = specAnnotation(spec({ flavor: "mariadb", instances: 2, storage: { size: "1Gi" } }));
    expect(lastValidSpec("shop", [])).toBeUndefined();
    expect(lastValidSpec("shop", [configMap(undefined)])).toBeUndefined();
    expect(lastValidSpec("shop", [configMap(s, "other-config")])).toBeUndefined();
    expect(lastValidSpec("shop", [configMap("{nope")])).toBeUndefined();
    expect(lastValidSpec("shop", [configMap(JSON.stringify({ instances: 0 }))])).toBeUndefined();
    expect(
      lastValidSpec("shop", [configMap(JSON.stringify({ flavor: "mariadb", storage: { size: "1Gi" }, mysqlConfig: { read_only: "OFF" } }))]),
    ).toBeUndefined();
  });
});
