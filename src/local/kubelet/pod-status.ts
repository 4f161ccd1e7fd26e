/**
 * What the kubelet reports about a pod, computed from a plain snapshot of its worker's state:
 * the Pod's `status` (phase, conditions with their transition times, podIP,
 * initContainerStatuses, containerStatuses) and the `local status` view (kubectl's STATUS and
 * RESTARTS columns). Pure: no I/O and no clock (`now` is passed in), so that every phase a pod
 * goes through is a row of a table test (test/unit/local-pod-status.test.ts).
 * docs/local-runtime.md, "How it works" (kubelet) and "Init containers".
 */
import type { ContainerStatus, TerminatedState } from "./containers.js";

/** Why the container is not running (`state.waiting`). */
export interface WaitingState {
  reason: string;
  message: string;
}

/** Everything a pod's status is computed from, as its worker holds it. */
export interface PodSnapshot {
  /** The pod IP. */
  ip: string;
  /** When the worker took the pod (`status.startTime`). */
  startTime: string;
  /** The (single supported) container of the spec. */
  container: { name: string; image: string };
  /** PID of the running container; undefined when none runs. */
  pid: number | undefined;
  /** When the running container started. */
  startedAt: string | undefined;
  /** Why the container is not running (ignored while it runs). */
  waiting: WaitingState | undefined;
  /** The readiness probe passed (or there is none) since the container started. */
  ready: boolean;
  /** The startup probe passed (or there is none) since the container started. */
  started: boolean;
  /** The container ran at least once (the pod left Pending). */
  everStarted: boolean;
  /** An init container failed under `restartPolicy: Never`: phase Failed. */
  failed: boolean;
  /** Every init container succeeded (or there is none). */
  initialized: boolean;
  initStatuses: readonly ContainerStatus[];
  restartCount: number;
  /** How the container last ended (`lastState.terminated`). */
  lastTermination: TerminatedState | undefined;
}

/** The last status of each condition type and when it became that (for lastTransitionTime). */
export type ConditionTransitions = Readonly<Record<string, { status: string; time: string }>>;

/** A computed Pod status and the condition transitions to remember for the next one. */
export interface ComputedPodStatus {
  status: Record<string, unknown>;
  transitions: ConditionTransitions;
}

/**
 * The Pod `status` of a snapshot at time `now` (RFC 3339). A condition's lastTransitionTime is
 * `now` when its status differs from `previous` (or it is new), else the remembered time.
 */
export function podStatus(s: PodSnapshot, previous: ConditionTransitions, now: string): ComputedPodStatus {
  const transitions: Record<string, { status: string; time: string }> = { ...previous };
  const condition = (type: string, ok: boolean, whyNot?: WaitingState): Record<string, unknown> => {
    const status = ok ? "True" : "False";
    const prev = transitions[type];
    if (!prev || prev.status !== status) transitions[type] = { status, time: now };
    return { type, status, lastProbeTime: null, lastTransitionTime: transitions[type]?.time, ...(!ok && whyNot ? whyNot : {}) };
  };
  const running = s.pid !== undefined;
  const state = running
    ? { running: { startedAt: s.startedAt } }
    : { waiting: { reason: s.waiting?.reason ?? "ContainerCreating", ...(s.waiting?.message ? { message: s.waiting.message } : {}) } };
  const incomplete = s.initStatuses.filter((c) => c.state.terminated?.exitCode !== 0).map((c) => c.name);
  const status = {
    phase: s.failed ? "Failed" : s.everStarted ? "Running" : "Pending",
    conditions: [
      condition("PodReadyToStartContainers", true),
      condition("Initialized", s.initialized, { reason: "ContainersNotInitialized", message: `containers with incomplete status: [${incomplete.join(" ")}]` }),
      condition("Ready", s.ready),
      condition("ContainersReady", s.ready),
      condition("PodScheduled", true),
    ],
    hostIP: "127.0.0.1",
    hostIPs: [{ ip: "127.0.0.1" }],
    podIP: s.ip,
    podIPs: [{ ip: s.ip }],
    startTime: s.startTime,
    ...(s.initStatuses.length > 0 ? { initContainerStatuses: s.initStatuses } : {}),
    containerStatuses: [
      {
        name: s.container.name,
        image: s.container.image,
        imageID: "",
        containerID: running ? `local://${s.pid}` : undefined,
        ready: s.ready,
        started: s.started,
        restartCount: s.restartCount,
        state,
        lastState: s.lastTermination ? { terminated: s.lastTermination } : {},
      },
    ],
  };
  return { status, transitions };
}

/**
 * kubectl's RESTARTS and STATUS columns for a pod: init containers' restarts count too; while
 * initializing, the init state (`Init:1/2`, `Init:Error`, ...); then Running, Hung (SIGSTOP),
 * or why the container waits.
 */
export function podDisplay(s: PodSnapshot, hung: boolean): { restarts: number; state: string } {
  return {
    restarts: s.restartCount + s.initStatuses.reduce((n, c) => n + c.restartCount, 0),
    state: (!s.initialized && initDisplayState(s.initStatuses)) || (s.pid !== undefined ? (hung ? "Hung" : "Running") : (s.waiting?.reason ?? "Terminated")),
  };
}

/**
 * The STATUS column kubectl shows for a pod that is initializing (Init:1/2, Init:Error,
 * Init:CrashLoopBackOff, ...), from its init container statuses; undefined once they all succeeded.
 */
export function initDisplayState(statuses: readonly ContainerStatus[]): string | undefined {
  for (const [i, s] of statuses.entries()) {
    const t = s.state.terminated;
    if (t && t.exitCode === 0) continue;
    if (t) return `Init:${t.reason || (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`)}`;
    const w = s.state.waiting;
    if (w && w.reason && w.reason !== "PodInitializing") return `Init:${w.reason}`;
    return `Init:${i}/${statuses.length}`;
  }
  return undefined;
}
