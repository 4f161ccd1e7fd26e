/**
 * Calls one webhook the way Metacontroller does: POST JSON, only 200 is success, the call is
 * abandoned at the webhook timeout (the server may still be running it), 429 carries a
 * Retry-After. metacontroller-notes.md "What Metacontroller does with the answer".
 */

/** A webhook call that did not succeed; `retryAfterSeconds` is set for 429. */
export class HookCallError extends Error {
  readonly statusCode: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, opts: { statusCode?: number; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "HookCallError";
    this.statusCode = opts.statusCode;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** POSTs `body` to `url`; resolves with the parsed JSON of a 200 answer, else throws HookCallError. */
export async function callWebhook(url: string, body: unknown, timeoutMs: number): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    const reason = timedOut
      ? `timed out after ${timeoutMs} ms`
      : err instanceof Error
        ? ((err.cause as Error | undefined)?.message ?? err.message)
        : String(err);
    throw new HookCallError(`POST ${url}: ${reason}`, { cause: err });
  }
  if (res.status === 429) {
    const header = Number(res.headers.get("retry-after") ?? "0");
    throw new HookCallError(`POST ${url}: 429 Too Many Requests`, {
      statusCode: 429,
      retryAfterSeconds: Number.isFinite(header) && header > 0 ? header : 0,
    });
  }
  if (res.status !== 200) {
    throw new HookCallError(`POST ${url}: HTTP ${res.status}: ${text.trim().slice(0, 500)}`, { statusCode: res.status });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HookCallError(`POST ${url}: response is not JSON: ${text.slice(0, 200)}`, { statusCode: 200, cause: err });
  }
}
