// ESLint: typescript-eslint's recommended rules, the project's layers (ARCHITECTURE.md section 1)
// enforced by eslint-plugin-boundaries, and the purity of render/ and topology/ by
// no-restricted-imports. Formatting is Prettier's (npm run format:check), not ESLint's.
import js from "@eslint/js";
import boundaries from "eslint-plugin-boundaries";
import tseslint from "typescript-eslint";

/** Modules that do I/O: never in the pure layers (render, topology, api, backup). */
const IO_MODULES = [
  "mysql2",
  "mysql2/*",
  "express",
  "pino",
  "node:fs",
  "node:fs/*",
  "fs",
  "node:net",
  "net",
  "node:http",
  "http",
  "node:child_process",
  "child_process",
  "node:dgram",
  "node:tls",
  "node:os",
];

/** Who may import whom: `from` layer -> the layers it may depend on (itself always). */
const LAYERS = {
  api: [],
  topology: ["api"],
  backup: ["api", "metrics"],
  render: ["api", "backup"],
  mysql: ["api", "topology"],
  metrics: ["api"],
  hook: ["api", "render", "topology", "mysql", "backup", "metrics"],
  server: ["api", "metrics", "hook"],
  local: ["api"],
  agent: ["api", "mysql"],
  cli: ["api", "local", "server", "metrics", "agent"],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "deploy/**", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ["vitest.config.ts"] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports", disallowTypeAnnotations: false }],
    },
  },
  {
    files: ["src/**/*.ts", "hooks/**/*.ts"],
    plugins: { boundaries },
    settings: {
      "import/resolver": { typescript: { project: "./tsconfig.json" } },
      "boundaries/include": ["src/**/*.ts", "hooks/**/*.ts"],
      "boundaries/elements": [
        { type: "api", pattern: "src/api" },
        { type: "render", pattern: "src/render" },
        { type: "topology", pattern: "src/topology" },
        { type: "mysql", pattern: "src/mysql" },
        { type: "backup", pattern: "src/backup" },
        { type: "local", pattern: "src/local" },
        { type: "agent", pattern: "src/agent" },
        { type: "cli", pattern: "src/cli" },
        { type: "server", pattern: "src/server" },
        { type: "metrics", pattern: "src/metrics" },
        // hooks/<resource>/: one folder per resource; hooks/shared/ is what every hook may use.
        { type: "hook", pattern: "hooks/*", capture: ["resource"] },
      ],
    },
    rules: {
      "boundaries/no-unknown-files": "error",
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          policies: [
            ...Object.entries(LAYERS).map(([from, to]) => ({
              from: { element: { type: from } },
              allow: { to: { element: { types: { anyOf: [from, ...to].filter((t) => t !== "hook") } } } },
            })),
            // A hook may import its own resource's modules and hooks/shared/, never another resource's.
            {
              from: { element: { type: "hook" } },
              allow: { to: { element: { type: "hook", captured: { resource: "{{from.captured.resource}}" } } } },
            },
            { from: { element: { type: "hook" } }, allow: { to: { element: { type: "hook", captured: { resource: "shared" } } } } },
            { from: { element: { type: "server" } }, allow: { to: { element: { type: "hook" } } } },
          ],
        },
      ],
    },
  },
  {
    files: ["src/render/**/*.ts", "src/topology/**/*.ts", "src/api/**/*.ts", "src/backup/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: IO_MODULES, message: "render/, topology/, api/ and backup/ are pure: no I/O (ARCHITECTURE.md section 1)" }] },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: "pure layer: pass `now` in" },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: "pure layer: pass `now` in" },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: "pure layer: no randomness" },
        { selector: "CallExpression[callee.name=/^set(Timeout|Interval|Immediate)$/]", message: "pure layer: no timers" },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly" } },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "it", property: "only" },
        { object: "it", property: "skip" },
        { object: "test", property: "only" },
        { object: "test", property: "skip" },
        { object: "describe", property: "only" },
        { object: "describe", property: "skip" },
      ],
    },
  },
);
