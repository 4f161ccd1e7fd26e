/**
 * Narration of the local runtime for the terminal: what `metamysql local up` prints as things
 * happen (pods starting and getting ready, the cluster's state and primary changing, hook errors
 * with their retry delay). Each part reports its own events; this file turns them into
 * RuntimeEvents with a source and a level. docs/local-runtime.md, Quick start.
 */
import { recordField, stringField, type KObject } from "./apiserver/objects.js";
import type { WatchEvent } from "./apiserver/store.js";
import { CLUSTER_KIND } from "../api/constants.js";
import type { MetacontrollerEvent } from "./metacontroller/metacontroller.js";

/** One line of progress: what happened, where. */
export interface RuntimeEvent {
  time: Date;
  /** "pod shop-0", "cluster shop", "service shop-ro", "metacontroller", "runtime". */
  source: string;
  reason: string;
  message: string;
  level: "info" | "warn" | "error";
}

/** Reports one event (the time is added). */
export type Say = (source: string, reason: string, message: string, level?: RuntimeEvent["level"]) => void;

/** Pod event reasons printed as warnings (the rest is info). */
const POD_WARNINGS = new Set([
  "BackOff",
  "Failed",
  "Unhealthy",
  "NotReady",
  "FailedPreStopHook",
  "ServerNotInstalled",
  "CreateContainerConfigError",
  "RunContainerError",
  "CreateContainerError",
]);

/** The level of a kubelet event. */
export function podEventLevel(reason: string): RuntimeEvent["level"] {
  return POD_WARNINGS.has(reason) ? "warn" : "info";
}

/** Narrates what the local Metacontroller did (failed syncs with their retry delay, children, finalization). */
export function narrateMetacontroller(ev: MetacontrollerEvent, say: Say): void {
  switch (ev.type) {
    case "SyncError":
      say("metacontroller", "SyncError", `${ev.hook} of ${ev.parent} failed: ${ev.message}; retrying in ${formatMs(ev.retryInMs)}`, "warn");
      break;
    case "ChildCreated":
    case "ChildUpdated":
    case "ChildDeleted":
      say("metacontroller", ev.type, `${ev.type.slice(5).toLowerCase()} ${ev.child}`);
      break;
    case "Finalized":
      say("metacontroller", "Finalized", `${ev.parent}: finalize hook reported finalized`);
      break;
    case "Synced":
      break;
  }
}

/** Narrates a change of a MySQLCluster's status: its state and its primary. */
export function narrateClusterChange(ev: WatchEvent, say: Say): void {
  const obj: KObject = ev.object;
  if (obj.kind !== CLUSTER_KIND || ev.type !== "MODIFIED" || !ev.old) return;
  const before = recordField(ev.old, "status");
  const after = recordField(obj, "status");
  const name = `cluster ${obj.metadata.name}`;
  if (before.state !== after.state && typeof after.state === "string") {
    const msg = stringField(after, "message");
    say(
      name,
      "State",
      `${String(before.state ?? "(none)")} -> ${after.state}${msg ? `: ${msg}` : ""}`,
      after.state === "Healthy" || after.state === "Initializing" ? "info" : "warn",
    );
  }
  if ((before.currentPrimary ?? "") !== (after.currentPrimary ?? "")) {
    say(
      name,
      "Primary",
      after.currentPrimary
        ? `primary is now ${String(after.currentPrimary)}${before.currentPrimary ? ` (was ${String(before.currentPrimary)})` : ""}`
        : `no primary (was ${String(before.currentPrimary)})`,
      "warn",
    );
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
