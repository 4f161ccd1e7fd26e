/**
 * Validation of rendered objects against the official Kubernetes OpenAPI schemas, through the
 * kubernetes-models package (generated from the Kubernetes OpenAPI spec).
 */
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Job } from "kubernetes-models/batch/v1/Job";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";

type Model = { validate(): void };
type ModelClass = new (data: never) => Model;

const MODELS: Record<string, ModelClass> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "discovery.k8s.io/v1/EndpointSlice": EndpointSlice,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
  "batch/v1/Job": Job,
  "batch/v1/CronJob": CronJob,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
};

/** True when the package has a model for this apiVersion/kind. */
export function hasKubeModel(obj: { apiVersion: string; kind: string }): boolean {
  return `${obj.apiVersion}/${obj.kind}` in MODELS;
}

/**
 * Validates `obj` against the official schema of its apiVersion/kind; throws with the
 * validator's message (instance path and rule) when it does not conform, or when the kind is
 * unknown to this helper (so a new child kind cannot slip through unvalidated).
 */
export function validateKubeObject(obj: { apiVersion: string; kind: string; metadata?: { name?: string } }): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no Kubernetes schema registered for ${obj.apiVersion}/${obj.kind}`);
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind} ${obj.metadata?.name ?? "?"} does not match the Kubernetes schema: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}
