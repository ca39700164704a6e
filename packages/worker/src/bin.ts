#!/usr/bin/env node
/** `launch-worker`: one worker process, started by a Launch controller or as an external worker (see `process/main.ts`). */
import { main } from "./process/main.js";

await main();
