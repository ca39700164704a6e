/**
 * Teams and endpoints for gateway tests that need no workers: a new user in a new team with a bundle
 * that is never run, and async endpoints of it (READY at once under `orchestration: "none"`).
 */
import { createEndpoint, type RouteCaller } from "./bundles.js";
import type { TestServer } from "./server.js";

export interface TestTeam {
  key: string;
  userId: string;
  teamId: string;
  /** A runnable-image bundle of the team's (its command is never started). */
  bundleId: string;
}

let teams = 0;

/**
 * A fresh team (`team<n>`, user `user<n>`) with an API key and a bundle.
 *
 * @example const team = await newTeam(server); await newTeamEndpoint(server, team, { post_inference_hooks: ["callback"] });
 */
export async function newTeam(server: TestServer): Promise<TestTeam> {
  teams += 1;
  const userId = `user${teams}`;
  const teamId = `team${teams}`;
  const key = await server.createKey(userId, teamId);
  const res = await server.request("POST", "/v2/model-bundles", {
    key,
    body: {
      name: "doc-bundle",
      schema_location: "s3://launch/schemas/doc.json",
      flavor: { flavor: "runnable_image", repository: "example/model", tag: "1", command: ["serve"] },
    },
  });
  if (res.status !== 200) throw new Error(`bundle create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { key, userId, teamId, bundleId: res.body.model_bundle_id };
}

/** An async endpoint of the team with a random name and `overrides` (wire field names); returns its id. */
export function newTeamEndpoint(
  server: RouteCaller,
  team: Pick<TestTeam, "key" | "bundleId">,
  overrides: Record<string, unknown> = {},
): Promise<string> {
  return createEndpoint(server, team.key, {
    name: `ep-${Math.random().toString(36).slice(2, 10)}`,
    bundleId: team.bundleId,
    ...overrides,
  });
}
