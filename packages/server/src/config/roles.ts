/**
 * The roles a process plays (`LAUNCH_ROLES`, `docs/operations.md`): `gateway` serves the API, `controller`
 * keeps the queue (sweeps) and runs or tracks workers (one controller acts at a time, under a lease),
 * `dispatcher` sends callbacks. `all` (the default) is all three, the single-node install.
 */
import { LaunchError, type ValidationIssue } from "@launch/protocol";
import type { LaunchConfig } from "./schema.js";

export const ROLES = ["gateway", "controller", "dispatcher"] as const;
export type Role = (typeof ROLES)[number];

/** The roles of a configuration, checked. */
export function rolesOf(config: Pick<LaunchConfig, "roles">): Set<Role> {
  const roles = new Set<Role>();
  for (const role of config.roles) {
    if (role === "all") for (const r of ROLES) roles.add(r);
    else roles.add(role as Role);
  }
  return roles;
}

/**
 * The problems of the roles setting together with the others, each naming the variable; empty when fine.
 */
export function roleIssues(
  config: Pick<LaunchConfig, "roles" | "orchestration" | "queue" | "store">,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const loc = ["env", "LAUNCH_ROLES"];
  const unknown = config.roles.filter((r) => r !== "all" && !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) {
    issues.push({
      loc,
      msg: `LAUNCH_ROLES has ${unknown.map((r) => JSON.stringify(r)).join(", ")}; expected a comma-separated list of gateway, controller, dispatcher, or all`,
      type: "value_error",
    });
    return issues;
  }
  if (config.roles.length === 0) {
    issues.push({
      loc,
      msg: "LAUNCH_ROLES is empty; expected at least one role (or all)",
      type: "value_error",
    });
    return issues;
  }
  const roles = rolesOf(config);
  if (roles.size < ROLES.length && (config.queue !== "redis" || config.store !== "postgres")) {
    issues.push({
      loc,
      msg: "LAUNCH_ROLES splits the roles across processes, which must then share their state: set LAUNCH_STORE=postgres and LAUNCH_QUEUE=redis (the embedded store and queue belong to one process)",
      type: "value_error",
    });
  }
  if (config.orchestration === "local" && !(roles.has("gateway") && roles.has("controller"))) {
    issues.push({
      loc,
      msg: "LAUNCH_ORCHESTRATION=local runs workers inside the process that serves their sync requests, so it needs both the gateway and controller roles; split roles with LAUNCH_ORCHESTRATION=external",
      type: "value_error",
    });
  }
  return issues;
}

/** Throws a `validation_failed` LaunchError listing the role problems. */
export function checkRoles(config: Pick<LaunchConfig, "roles" | "orchestration" | "queue" | "store">): void {
  const issues = roleIssues(config);
  if (issues.length > 0) throw LaunchError.validation(issues);
}
