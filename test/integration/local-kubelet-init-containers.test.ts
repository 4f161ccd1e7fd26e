/**
 * Init containers in the local runtime (src/local/kubelet/containers.ts), with real processes: the
 * kubelet runs a StatefulSet-style pod's init containers in order, each to completion, before its
 * container, restarts a failing one with CrashLoopBackOff while the pod stays Pending and not
 * Ready (initContainerStatuses, Init:CrashLoopBackOff), shares emptyDirs between them, keeps the
 * emptyDirs and does not re-run init containers when the container restarts, starts a new pod of
 * the same name with empty emptyDirs, gives each container its own TMPDIR under the pod's dir and
 * stops a running init container when the pod is deleted. The Job controller runs the same code with
 * restartPolicy Never: a failed init container fails the pod and the Job. No process is left.
 * Pod IPs 127.50.9.* (never bound here).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JobController } from "../../src/local/controllers/job.js";
import { Kubelet, type PodEvent } from "../../src/local/kubelet/kubelet.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { ProcessSupervisor } from "../../src/local/node/process.js";
import { stateLayout, type StateLayout } from "../../src/local/node/statedir.js";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import { eventually, leftoverPids, tempStateDir } from "../helpers/local.js";

type Obj = Record<string, unknown>;

let stateDir = "";
let layout: StateLayout;
let cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  expect(leftoverPids(stateDir)).toEqual([]);
  rmSync(stateDir, { recursive: true, force: true });
});

function setup(): { store: ObjectStore; supervisor: ProcessSupervisor } {
  stateDir = tempStateDir("kubelet");
  layout = stateLayout(stateDir);
  mkdirSync(layout.logsDir, { recursive: true });
  const store = new ObjectStore();
  const supervisor = new ProcessSupervisor({ pidLog: layout.pidLog });
  cleanup.push(async () => supervisor.stopAll(2000));
  store.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "token", namespace: "default" },
    data: { token: Buffer.from("s3cret").toString("base64") },
  });
  return { store, supervisor };
}

function startKubelet(store: ObjectStore, supervisor: ProcessSupervisor, events: PodEvent[] = []): Kubelet {
  const kubelet = new Kubelet({ store, layout, supervisor, ipPrefix: "127.50.9", crashLoopBaseMs: 300, crashLoopMaxMs: 600, onEvent: (e) => events.push(e) });
  kubelet.start();
  cleanup.push(async () => kubelet.stop());
  return kubelet;
}

const WORK = { name: "work", mountPath: "/work" };

function sh(name: string, script: string, extra: Obj = {}): Obj {
  return { name, image: "busybox", command: ["sh", "-c", script], env: [{ name: "WORK", value: "/work" }], volumeMounts: [WORK], ...extra };
}

/** A pod whose first init container reads a Secret, whose second fails twice, and a long-running container. */
function pod(name: string): KObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 2,
      volumes: [{ name: "work", emptyDir: {} }],
      initContainers: [
        sh("first", 'echo "first $TOKEN" >>"$WORK/trace"', {
          env: [
            { name: "WORK", value: "/work" },
            { name: "TOKEN", valueFrom: { secretKeyRef: { name: "token", key: "token" } } },
          ],
        }),
        sh(
          "flaky",
          'n=$(cat "$WORK/n" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$WORK/n"; echo "flaky $n" >>"$WORK/trace"; [ "$n" -ge 3 ] || { echo "not yet ($n)" >&2; exit 1; }',
        ),
      ],
      containers: [sh("main", 'echo main >>"$WORK/trace"; exec sleep 600')],
    },
  };
}

function statusOf(store: ObjectStore, name: string): Obj {
  return (store.get("v1", "Pod", "default", name)?.status ?? {}) as Obj;
}

function trace(name: string): string[] {
  const file = join(layout.podDir("default", name), "volumes", "work", "trace");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

function condition(status: Obj, type: string): Obj | undefined {
  return ((status.conditions ?? []) as Obj[]).find((c) => c.type === type);
}

describe("init containers (local kubelet)", () => {
  it("run in order to completion before the container; a failing one restarts with backoff while the pod is Pending and not Ready; a container restart does not re-run them", async () => {
    const { store, supervisor } = setup();
    const events: PodEvent[] = [];
    const seen: Array<{ status: Obj; state: string }> = [];
    // The watch registered first reads the kubelet started below.
    const started: { kubelet?: Kubelet } = {};
    const unwatch = store.watch((ev) => {
      if (ev.object.kind === "Pod" && ev.object.status)
        seen.push({ status: JSON.parse(JSON.stringify(ev.object.status)) as Obj, state: started.kubelet?.pods()[0]?.state ?? "" });
    });
    cleanup.push(async () => unwatch());
    const kubelet = startKubelet(store, supervisor, events);
    started.kubelet = kubelet;
    store.create(pod("p"));
    // Ready as soon as it runs (no readiness probe): wait for its first line too.
    await eventually(
      () => condition(statusOf(store, "p"), "Ready")?.status === "True" && trace("p").length === 5,
      20_000,
      "pod p Ready and its container started",
    );

    expect(trace("p")).toEqual(["first s3cret", "flaky 1", "flaky 2", "flaky 3", "main"]);
    const st = statusOf(store, "p");
    expect(st.phase).toBe("Running");
    expect(condition(st, "Initialized")?.status).toBe("True");
    const inits = st.initContainerStatuses as Obj[];
    expect(inits.map((s) => [s.name, s.restartCount, (s.state as { terminated?: Obj }).terminated?.reason, s.ready])).toEqual([
      ["first", 0, "Completed", true],
      ["flaky", 2, "Completed", true],
    ]);
    expect(((inits[1]?.lastState as Obj).terminated as Obj).exitCode).toBe(1);
    expect(kubelet.pods()[0]).toMatchObject({ state: "Running", restarts: 2, ready: true });

    // While "flaky" failed: Pending, not Ready, not Initialized, the container waiting for the init containers.
    const backoff = seen.find(
      (s) => ((s.status.initContainerStatuses as Obj[] | undefined)?.[1]?.state as { waiting?: Obj } | undefined)?.waiting?.reason === "CrashLoopBackOff",
    );
    expect(backoff, JSON.stringify(seen.map((s) => s.state))).toBeDefined();
    expect(backoff?.state).toBe("Init:CrashLoopBackOff");
    expect(backoff?.status.phase).toBe("Pending");
    expect(condition(backoff?.status ?? {}, "Ready")?.status).toBe("False");
    expect(condition(backoff?.status ?? {}, "Initialized")).toMatchObject({
      status: "False",
      reason: "ContainersNotInitialized",
      message: "containers with incomplete status: [flaky]",
    });
    expect((((backoff?.status.containerStatuses as Obj[])[0]?.state as Obj).waiting as Obj).reason).toBe("PodInitializing");
    expect(seen.some((s) => s.state === "Init:Error")).toBe(true);
    expect(seen.some((s) => s.state === "Init:1/2")).toBe(true);
    expect(events.filter((e) => e.reason === "BackOff").map((e) => e.message)).toEqual([
      "init container flaky failed (exit code 1): not yet (1); restarting",
      "init container flaky failed (exit code 1): not yet (2); restarting in 0.3s",
    ]);

    // The container crashes: it restarts, the init containers do not run again, the emptyDir is kept.
    kubelet.signal("default", "p", "SIGKILL");
    await eventually(() => trace("p").length === 6 && kubelet?.pods()[0]?.ready, 20_000, "the container restarted");
    expect(trace("p")).toEqual(["first s3cret", "flaky 1", "flaky 2", "flaky 3", "main", "main"]);
    const after = statusOf(store, "p");
    expect((after.initContainerStatuses as Obj[]).map((s) => s.restartCount)).toEqual([0, 2]);
    expect((after.containerStatuses as Obj[])[0]?.restartCount).toBe(1);

    // Deletion removes the pod and its emptyDirs.
    store.delete("v1", "Pod", "default", "p");
    await eventually(() => !store.get("v1", "Pod", "default", "p"), 20_000, "pod p removed");
    expect(existsSync(layout.podDir("default", "p"))).toBe(false);
  }, 60_000);

  it("a new pod with the same name (a restarted runtime) starts with empty emptyDirs and runs its init containers again", async () => {
    const { store, supervisor } = setup();
    const first = startKubelet(store, supervisor);
    store.create(pod("q"));
    // Ready as soon as it runs (no readiness probe): wait for its first line too.
    await eventually(() => first.pods()[0]?.ready && trace("q").length === 5, 20_000, "pod q Ready and its container started");
    await first.stop();
    // Stopping keeps the pod's dirs, like a node going down; the next runtime drops the pod.
    expect(trace("q")).toHaveLength(5);
    store.remove("v1", "Pod", "default", "q");
    store.create(pod("q"));
    const second = startKubelet(store, supervisor);
    await eventually(() => second.pods()[0]?.ready, 20_000, "the new pod q Ready");
    expect(trace("q")).toEqual(["first s3cret", "flaky 1", "flaky 2", "flaky 3", "main"]);
  }, 60_000);

  it("deleting a pod stops its running init container; with restartPolicy Never a failed init container fails the pod", async () => {
    const { store, supervisor } = setup();
    const kubelet = startKubelet(store, supervisor);
    const simple = (name: string, restartPolicy: string, init: string): KObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default" },
      spec: {
        restartPolicy,
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: "work", emptyDir: {} }],
        initContainers: [sh("init", init)],
        containers: [sh("main", 'echo main >>"$WORK/trace"; exec sleep 600')],
      },
    });
    store.create(simple("hang", "Always", 'mktemp >"$WORK/tmpfile"; echo waiting >>"$WORK/trace"; exec sleep 600'));
    store.create(simple("never", "Never", 'echo "cannot" >&2; exit 7'));
    const info = (name: string) => kubelet.pods().find((p) => p.name === name);
    await eventually(() => info("hang")?.state === "Init:0/1" && trace("hang").length === 1, 10_000, "the init container of hang running");
    await eventually(() => statusOf(store, "never").phase === "Failed", 10_000, "pod never Failed");
    expect(info("never")?.state).toBe("Init:Error");
    // The init container's own /tmp (TMPDIR) is under the pod's dir, not the host's /tmp.
    const tmpfile = readFileSync(join(layout.podDir("default", "hang"), "volumes", "work", "tmpfile"), "utf8").trim();
    expect(tmpfile.startsWith(join(layout.podDir("default", "hang"), "containers", "init", "tmp") + "/")).toBe(true);
    expect(existsSync(tmpfile)).toBe(true);
    expect(((statusOf(store, "never").initContainerStatuses as Obj[])[0]?.state as Obj).terminated).toMatchObject({ exitCode: 7, reason: "Error" });
    const started = Date.now();
    store.delete("v1", "Pod", "default", "hang");
    store.delete("v1", "Pod", "default", "never");
    await eventually(() => store.list({ kind: "Pod" }).length === 0, 25_000, "both pods removed");
    expect(Date.now() - started).toBeLessThan(25_000); // SIGTERM, not the 30 s grace period (wide: CPU load stretches timers)
    expect(supervisor.running()).toEqual([]);
    expect(existsSync(layout.podDir("default", "never"))).toBe(false);
    expect(existsSync(tmpfile)).toBe(false);
  }, 30_000);

  it("a Job pod (restartPolicy Never) runs init containers once: a failure fails the pod and the Job; success runs the container", async () => {
    const { store, supervisor } = setup();
    const jobs = new JobController({ store, layout, supervisor });
    jobs.start();
    cleanup.push(async () => jobs.stop());
    // Each container writes its termination message into the "result" emptyDir.
    const io = {
      env: [
        { name: "WORK", value: "/work" },
        { name: "RESULT", value: "/result" },
      ],
      volumeMounts: [WORK, { name: "result", mountPath: "/result" }],
      terminationMessagePath: "/result/msg",
    };
    const job = (name: string, initScript: string): KObject => ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: "default", uid: `uid-${name}` },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: "Never",
            volumes: [
              { name: "work", emptyDir: {} },
              { name: "result", emptyDir: {} },
            ],
            initContainers: [sh("prepare", initScript, io)],
            containers: [sh("run", 'cp "$WORK/input" "$RESULT/msg"', io)],
          },
        },
      },
    });
    store.create(job("bad", 'echo "no input today" >"$RESULT/msg"; exit 3'));
    store.create(job("good", 'echo "hello from init" >"$WORK/input"'));
    const done = async (name: string): Promise<Obj> =>
      await eventually(
        () => {
          const s = (store.get("batch/v1", "Job", "default", name)?.status ?? {}) as Obj;
          return s.succeeded || s.failed ? s : undefined;
        },
        20_000,
        `job ${name}`,
      );
    expect((await done("bad")).failed).toBe(1);
    expect((await done("good")).succeeded).toBe(1);
    const podOf = (name: string): Obj => (store.list({ kind: "Pod" }).find((p) => p.metadata.labels?.["job-name"] === name)?.status ?? {}) as Obj;
    const bad = podOf("bad");
    expect(bad.phase).toBe("Failed");
    expect(((bad.initContainerStatuses as Obj[])[0]?.state as Obj).terminated).toMatchObject({ exitCode: 3, reason: "Error", message: "no input today\n" });
    expect((((bad.containerStatuses as Obj[])[0]?.state as Obj).waiting as Obj).reason).toBe("PodInitializing");
    const good = podOf("good");
    expect(good.phase).toBe("Succeeded");
    expect(((good.containerStatuses as Obj[])[0]?.state as Obj).terminated).toMatchObject({ exitCode: 0, reason: "Completed", message: "hello from init\n" });
    await jobs.idle();
  }, 60_000);
});
