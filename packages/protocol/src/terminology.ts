/**
 * # Terminology
 *
 * These words mean one thing everywhere in Launch: in code, docs, logs and the API.
 *
 * - **bundle** (`bun_…`): an immutable, named, versioned description of how to run a model (its
 *   *flavor*: a runnable image, a Python artifact or a Node artifact). Names are not unique; "latest by
 *   name" is the newest bundle of that name within a team.
 * - **endpoint** (`end_…`): a deployed bundle with a type (`async`, `sync`, `streaming`), a number of
 *   workers between `min_workers` and `max_workers`, and optional post-inference hooks.
 * - **worker**: one process that serves one endpoint: it leases tasks, runs them through the bundle's
 *   runtime and reports results. It also answers sync and streaming requests forwarded by the gateway.
 * - **runtime**: the part of a worker that turns a bundle into something that answers "predict"
 *   (Node modules, a runnable image's HTTP program, a Python harness).
 * - **task** (`tsk_…`): one inference request. Async tasks wait in the durable queue; sync and streaming
 *   tasks are forwarded to a ready worker at once.
 * - **lease**: a worker's time-limited claim on a task. A lease that is not extended before its deadline
 *   expires and the task goes back to the queue.
 * - **hook** (post-inference hook): work done after a task finishes. Today there is one: `callback`.
 * - **callback**: an HTTP POST of a finished task's result to a URL, authenticated with basic auth or
 *   mutual TLS.
 * - **delivery** (`dlv_…`): one callback to be sent for one task, recorded durably with the result and
 *   sent by the dispatcher.
 * - **attempt**: one try at sending a delivery; every attempt is logged.
 * - **key** (`key_…`): an API key. It resolves to a user and a team; everything a user creates is owned
 *   by the team.
 * - **team** / **owner**: the unit of ownership. Another team's resource answers 404, exactly like a
 *   missing one.
 * - **gateway**: the HTTP API. **controller**: reconciles endpoints into workers. **dispatcher**: sends
 *   callbacks. One binary runs any or all of these roles.
 */
export type Terminology = never;
