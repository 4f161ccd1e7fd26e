/**
 * The `metamysql` command: serve, render, local, agent. ARCHITECTURE.md section 6.
 */
import { runRender } from "./render.js";
import { runServe } from "./serve.js";

const USAGE = `usage: metamysql <command>

  serve [--port 8080]                         run the hook server
  render -f cluster.yaml                      print the desired children as YAML, offline
  local up -f cluster.yaml [--state-dir DIR]  run a cluster on this machine (foreground)
  local apply -f cluster.yaml [--state-dir DIR]
  local status [--state-dir DIR] [--json]
  local kill POD [--signal KILL|STOP|CONT] [--state-dir DIR]
  local delete [--state-dir DIR]
  agent serve|clone                           the database pods' agent sidecar / seeding step
`;

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return runServe(rest);
    case "render":
      return runRender(rest);
    case "local": {
      const local = await import("./local.js");
      return local.runLocal(rest);
    }
    case "agent": {
      const agent = await import("../agent/cli.js");
      return agent.runAgent(rest);
    }
    case undefined:
    case "help":
    case "-h":
    case "--help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`metamysql: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}
