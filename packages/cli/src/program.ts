/** The `launch` command tree. */
import { createRequire } from "node:module";
import { Command } from "commander";
import { registerBundles } from "./commands/bundles.js";
import { registerCallbacks } from "./commands/callbacks.js";
import { registerEndpoints } from "./commands/endpoints.js";
import { registerKeys } from "./commands/keys.js";
import { registerServe } from "./commands/serve.js";
import { registerStore } from "./commands/store.js";
import { registerTasks } from "./commands/tasks.js";
import type { CliIo } from "./io.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

/**
 * Builds the `launch` program writing to `io`. Commander never exits the process: errors are thrown as
 * `CommanderError` for `runCli` to turn into exit codes.
 *
 * @example await buildProgram(io).parseAsync(["keys", "list"], { from: "user" });
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command("launch")
    .description(
      "Launch: serve models behind the Launch REST API; manage keys, bundles, endpoints, tasks and callbacks",
    )
    .version(version, "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
    })
    .showSuggestionAfterError(true);
  registerServe(program, io);
  registerKeys(program, io);
  registerStore(program, io);
  registerBundles(program, io);
  registerEndpoints(program, io);
  registerTasks(program, io);
  // After the endpoints: it also adds `launch endpoints secret`.
  registerCallbacks(program, io);
  return program;
}
