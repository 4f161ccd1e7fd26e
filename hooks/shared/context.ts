/**
 * What every hook handler receives: configuration, logger, metrics, clock, password generator.
 * Injected so tests can pin time and randomness.
 */
import type { Logger } from "pino";
import type { EnvConfig } from "../../src/api/env.js";
import type { HookMetrics } from "../../src/metrics/registry.js";

export interface HookContext {
  config: EnvConfig;
  logger: Logger;
  metrics: HookMetrics;
  now: () => Date;
  generatePassword: () => string;
  /**
   * `performance.now()` when the request arrived (before it waited behind another sync of the
   * same parent): the sync budget counts from here. Absent: from the handler's start.
   */
  receivedAt?: number;
}

/** A handler's answer: HTTP status and JSON (or text for 500) body. */
export type HookResult = { code: 200; body: unknown } | { code: 400; body: { error: string; issues?: string[] } } | { code: 500; body: string };

/** A request that is not what Metacontroller sends: answered with 400. */
export class BadRequestError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(message);
    this.name = "BadRequestError";
  }
}
