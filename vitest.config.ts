import { defineConfig } from "vitest/config";

const shared = {
  pool: "forks" as const,
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

/**
 * Two groups, run one after the other: unit, contract and integration files in parallel (2
 * workers), then the e2e files one at a time. Each e2e file runs whole clusters of mariadbd
 * processes and measures timing (failover, backoff, write gaps); two of them sharing the 2 cores
 * of a CI machine made an old primary's restart miss a 60 s wait once.
 */
export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        test: {
          ...shared,
          name: "parallel",
          include: ["test/unit/**/*.test.ts", "test/contract/**/*.test.ts", "test/property/**/*.test.ts", "test/integration/**/*.test.ts"],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
