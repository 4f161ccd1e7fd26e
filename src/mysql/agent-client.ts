/**
 * The hook's client of a pod's agent (src/agent/server.ts): `POST /rebuild` asks the agent of a
 * diverged instance to save its unacknowledged tail and have its data dir replaced by a clone
 * (docs/clustering.md "Automatic rebuild"). The token goes only into the Authorization header.
 */
import { request } from "node:http";
import { z } from "zod";
import type { SaveRange } from "../topology/repair.js";

export interface AgentTarget {
  host: string;
  port: number;
  token: string;
  timeoutMs: number;
}

const RebuildAnswerSchema = z.object({ state: z.enum(["saved", "rebuilding"]), savedFile: z.string().optional() });
export type RebuildAnswer = z.infer<typeof RebuildAnswerSchema>;

/** Asks the agent to rebuild its instance; resolves with its answer, rejects on any failure. */
export async function requestRebuild(target: AgentTarget, body: { save?: SaveRange; savedFile?: string }): Promise<RebuildAnswer> {
  const payload = JSON.stringify(body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path: "/rebuild",
        method: "POST",
        headers: { Authorization: `Bearer ${target.token}`, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (data = (data + d).slice(0, 65536)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: data }));
        res.on("error", reject);
      },
    );
    req.setTimeout(target.timeoutMs, () => req.destroy(new Error(`the agent did not answer within ${target.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
  if (status !== 200 && status !== 202) throw new Error(`the agent answered ${status}: ${text.trim().slice(0, 300)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error("the agent's answer is not JSON");
  }
  return RebuildAnswerSchema.parse(parsed);
}
