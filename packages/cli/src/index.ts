export type { CliIo } from "./io.js";
export { buildProgram } from "./program.js";
export { runCli } from "./run.js";
export { type MemoryIo, memoryIo } from "./test-io.js";
