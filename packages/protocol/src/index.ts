export * from "./bundles.js";
export * from "./endpoints.js";
export * from "./errors.js";
export * from "./ids.js";
export * from "./tasks.js";
export type { Terminology } from "./terminology.js";
