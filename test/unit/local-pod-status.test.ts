/**
 * The Pod status the local kubelet publishes (src/local/kubelet/pod-status.ts), computed from a
 * snapshot of a pod worker: one named case per state a pod goes through, plus the invariants
 * every case keeps (Ready and ContainersReady agree with the container; a condition's
 * transition time moves only when its status changes).
 */
import { describe, expect, it } from "vitest";
import type { ContainerStatus, TerminatedState } from "../../src/local/kubelet/containers.js";
import { type ConditionTransitions, podDisplay, type PodSnapshot, podStatus } from "../../src/local/kubelet/pod-status.js";

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:01:00Z";

function snapshot(fields: Partial<PodSnapshot> = {}): PodSnapshot {
  return {
    ip: "127.20.1.2",
    startTime: T0,
    container: { name: "mysql", image: "mariadb:11.4" },
    pid: undefined,
    startedAt: undefined,
    waiting: { reason: "ContainerCreating", message: "" },
    ready: false,
    started: false,
    everStarted: false,
    failed: false,
    initialized: true,
    initStatuses: [],
    restartCount: 0,
    lastTermination: undefined,
    ...fields,
  };
}

const running = (fields: Partial<PodSnapshot> = {}): PodSnapshot => snapshot({ pid: 4242, startedAt: T0, waiting: undefined, everStarted: true, ...fields });

function initStatus(name: string, state: ContainerStatus["state"], restartCount = 0): ContainerStatus {
  return { name, image: "tools", imageID: "", ready: false, started: false, restartCount, state, lastState: {} };
}

const crashed: TerminatedState = { exitCode: 1, reason: "Error", startedAt: T0, finishedAt: T1 };
const succeeded: TerminatedState = { exitCode: 0, reason: "Completed", startedAt: T0, finishedAt: T1 };

interface Case {
  name: string;
  snapshot: PodSnapshot;
  hung?: boolean;
  phase: string;
  ready: boolean;
  initialized: boolean;
  containerState: Record<string, unknown>;
  display: { restarts: number; state: string };
}

const cases: Case[] = [
  {
    name: "new-pod-creating",
    snapshot: snapshot(),
    phase: "Pending",
    ready: false,
    initialized: true,
    containerState: { waiting: { reason: "ContainerCreating" } },
    display: { restarts: 0, state: "ContainerCreating" },
  },
  {
    name: "init-first-running",
    snapshot: snapshot({
      initialized: false,
      waiting: { reason: "PodInitializing", message: "" },
      initStatuses: [initStatus("fetch-seed", { running: { startedAt: T0 } }), initStatus("prepare", { waiting: { reason: "PodInitializing" } })],
    }),
    phase: "Pending",
    ready: false,
    initialized: false,
    containerState: { waiting: { reason: "PodInitializing" } },
    display: { restarts: 0, state: "Init:0/2" },
  },
  {
    name: "init-crashloop",
    snapshot: snapshot({
      initialized: false,
      waiting: { reason: "PodInitializing", message: "" },
      initStatuses: [initStatus("fetch-seed", { waiting: { reason: "CrashLoopBackOff", message: "back-off 10s" } }, 2)],
    }),
    phase: "Pending",
    ready: false,
    initialized: false,
    containerState: { waiting: { reason: "PodInitializing" } },
    display: { restarts: 2, state: "Init:CrashLoopBackOff" },
  },
  {
    name: "init-failed-restart-never",
    snapshot: snapshot({ initialized: false, failed: true, initStatuses: [initStatus("fetch-seed", { terminated: crashed })] }),
    phase: "Failed",
    ready: false,
    initialized: false,
    containerState: { waiting: { reason: "ContainerCreating" } },
    display: { restarts: 0, state: "Init:Error" },
  },
  {
    name: "server-not-installed",
    snapshot: snapshot({ waiting: { reason: "ServerNotInstalled", message: "install mariadb" } }),
    phase: "Pending",
    ready: false,
    initialized: true,
    containerState: { waiting: { reason: "ServerNotInstalled", message: "install mariadb" } },
    display: { restarts: 0, state: "ServerNotInstalled" },
  },
  {
    name: "running-before-startup-probe",
    snapshot: running(),
    phase: "Running",
    ready: false,
    initialized: true,
    containerState: { running: { startedAt: T0 } },
    display: { restarts: 0, state: "Running" },
  },
  {
    name: "running-ready",
    snapshot: running({ started: true, ready: true, initStatuses: [initStatus("fetch-seed", { terminated: succeeded })] }),
    phase: "Running",
    ready: true,
    initialized: true,
    containerState: { running: { startedAt: T0 } },
    display: { restarts: 0, state: "Running" },
  },
  {
    name: "running-hung",
    snapshot: running({ started: true, ready: true, restartCount: 1 }),
    hung: true,
    phase: "Running",
    ready: true,
    initialized: true,
    containerState: { running: { startedAt: T0 } },
    display: { restarts: 1, state: "Hung" },
  },
  {
    name: "crashed-backoff",
    snapshot: snapshot({
      everStarted: true,
      restartCount: 3,
      lastTermination: crashed,
      waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" },
    }),
    phase: "Running",
    ready: false,
    initialized: true,
    containerState: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } },
    display: { restarts: 3, state: "CrashLoopBackOff" },
  },
  {
    name: "restarted-ready-again",
    snapshot: running({ started: true, ready: true, restartCount: 1, lastTermination: crashed, startedAt: T1 }),
    phase: "Running",
    ready: true,
    initialized: true,
    containerState: { running: { startedAt: T1 } },
    display: { restarts: 1, state: "Running" },
  },
];

function condition(status: Record<string, unknown>, type: string): Record<string, unknown> | undefined {
  return (status.conditions as Array<Record<string, unknown>>).find((c) => c.type === type);
}

describe("podStatus: the Pod status of a pod worker's snapshot", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { status } = podStatus(c.snapshot, {}, T0);
      expect(status.phase).toBe(c.phase);
      expect(condition(status, "Ready")?.status).toBe(c.ready ? "True" : "False");
      expect(condition(status, "Initialized")?.status).toBe(c.initialized ? "True" : "False");
      const [container] = status.containerStatuses as Array<Record<string, unknown>>;
      expect(container?.state).toEqual(c.containerState);
      expect(podDisplay(c.snapshot, c.hung ?? false)).toEqual(c.display);

      // Invariants of every case.
      expect(condition(status, "ContainersReady")?.status).toBe(condition(status, "Ready")?.status);
      expect(container?.ready).toBe(c.ready);
      expect(container?.restartCount).toBe(c.snapshot.restartCount);
      expect(container?.containerID).toBe(c.snapshot.pid === undefined ? undefined : `local://${c.snapshot.pid}`);
      expect(container?.lastState).toEqual(c.snapshot.lastTermination ? { terminated: c.snapshot.lastTermination } : {});
      expect(status).toMatchObject({ podIP: c.snapshot.ip, podIPs: [{ ip: c.snapshot.ip }], hostIP: "127.0.0.1", startTime: T0 });
      expect("initContainerStatuses" in status).toBe(c.snapshot.initStatuses.length > 0);
      expect(podStatus(c.snapshot, {}, T0)).toEqual(podStatus(c.snapshot, {}, T0));
    });
  }

  it("names the incomplete init containers while not initialized", () => {
    const s = snapshot({ initialized: false, initStatuses: [initStatus("a", { terminated: succeeded }), initStatus("b", { running: { startedAt: T0 } })] });
    expect(condition(podStatus(s, {}, T0).status, "Initialized")).toMatchObject({
      status: "False",
      reason: "ContainersNotInitialized",
      message: "containers with incomplete status: [b]",
    });
  });

  it("moves a condition's lastTransitionTime only when its status changes", () => {
    const first = podStatus(running(), {}, T0);
    const same = podStatus(running(), first.transitions, T1);
    expect(condition(same.status, "Ready")?.lastTransitionTime).toBe(T0);
    expect(same.transitions).toEqual(first.transitions);
    const ready = podStatus(running({ started: true, ready: true }), same.transitions, T1);
    expect(condition(ready.status, "Ready")?.lastTransitionTime).toBe(T1);
    expect(condition(ready.status, "Initialized")?.lastTransitionTime).toBe(T0);
    const previous: ConditionTransitions = ready.transitions;
    podStatus(snapshot(), previous, "2026-01-01T00:02:00Z");
    expect(previous).toEqual(ready.transitions); // the input is not mutated
  });
});
