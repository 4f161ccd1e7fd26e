/**
 * Changes the spec may not make to a running cluster, checked against what was observed (the
 * CRD's CEL rules reject them at admission; this is the second line, e.g. for objects admitted
 * before a rule existed). ARCHITECTURE.md section 4.
 */
import { z } from "zod";
import type { Cluster } from "./cluster.js";
import { CREDENTIALS_VOLUME, LABEL_NAME } from "./constants.js";
import { childNames } from "./names.js";
import type { KubeObject } from "./k8s.js";
import type { SpecIssue } from "./parse.js";
import { compareQuantities } from "./quantity.js";

const DataTemplateSchema = z.object({
  spec: z.looseObject({
    volumeClaimTemplates: z
      .array(
        z.looseObject({
          metadata: z.looseObject({ name: z.string().optional() }).optional(),
          spec: z
            .looseObject({
              storageClassName: z.string().nullable().optional(),
              resources: z.looseObject({ requests: z.record(z.string(), z.union([z.string(), z.number()])).optional() }).optional(),
            })
            .optional(),
        }),
      )
      .optional(),
  }),
});

interface ObservedTemplate {
  storage: string | undefined;
  storageClassName: string | undefined;
}

/** Storage request and class of the observed `data` volume claim template. */
export function observedDataTemplate(sts: KubeObject): ObservedTemplate | undefined {
  const parsed = DataTemplateSchema.safeParse(sts);
  if (!parsed.success) return undefined;
  const tpl = (parsed.data.spec.volumeClaimTemplates ?? []).find((t) => t.metadata?.name === "data");
  if (!tpl) return undefined;
  const storage = tpl.spec?.resources?.requests?.["storage"];
  return {
    storage: storage === undefined ? undefined : String(storage),
    storageClassName: tpl.spec?.storageClassName ?? undefined,
  };
}

const CredentialsVolumeSchema = z.object({
  spec: z.looseObject({
    template: z.looseObject({
      spec: z.looseObject({
        volumes: z.array(z.looseObject({ name: z.string(), secret: z.looseObject({ secretName: z.string().optional() }).optional() })).optional(),
      }),
    }),
  }),
});

/** The Secret the observed pods take their passwords from (undefined for a template without the volume). */
function observedCredentialsSecret(sts: KubeObject): string | undefined {
  const parsed = CredentialsVolumeSchema.safeParse(sts);
  if (!parsed.success) return undefined;
  return (parsed.data.spec.template.spec.volumes ?? []).find((v) => v.name === CREDENTIALS_VOLUME)?.secret?.secretName;
}

/** Issues for forbidden changes relative to the observed StatefulSet (none when it is absent). */
export function forbiddenChanges(cluster: Cluster, observedStatefulSet: KubeObject | undefined): SpecIssue[] {
  if (!observedStatefulSet) return [];
  const issues: SpecIssue[] = [];
  const flavor = observedStatefulSet.metadata.labels?.[LABEL_NAME];
  if (flavor && flavor !== cluster.spec.flavor) {
    issues.push({ path: "spec.flavor", message: `flavor is immutable (the cluster runs ${flavor})` });
  }
  // The servers hold the passwords of the Secret they started with: switching Secrets (to or from
  // credentialsSecretName) would leave the operator with passwords no server has.
  const secret = observedCredentialsSecret(observedStatefulSet);
  const wantedSecret = cluster.spec.credentialsSecretName ?? childNames(cluster.name).secret;
  if (secret && secret !== wantedSecret) {
    issues.push({
      path: "spec.credentialsSecretName",
      message: `the credentials Secret cannot be switched on a running cluster (its servers use ${secret}); edit that Secret's passwords instead`,
    });
  }
  const tpl = observedDataTemplate(observedStatefulSet);
  if (tpl) {
    const wanted = cluster.spec.storage.storageClassName;
    if (wanted !== tpl.storageClassName) {
      issues.push({
        path: "spec.storage.storageClassName",
        message: `storageClassName is immutable (the volumes use ${tpl.storageClassName ?? "the default class"})`,
      });
    }
    if (tpl.storage && compareQuantities(cluster.spec.storage.size, tpl.storage) < 0) {
      issues.push({
        path: "spec.storage.size",
        message: `storage may grow but never shrink (the volumes have ${tpl.storage}, spec asks ${cluster.spec.storage.size})`,
      });
    }
  }
  return issues;
}
