import type { PostInferenceHook } from "@launch/protocol";

/**
 * Names of post-inference hooks, as in the Python client's `launch.PostInferenceHooks`.
 *
 * @example
 * await client.createModelEndpoint({ ..., postInferenceHooks: [PostInferenceHooks.CALLBACK] });
 */
export const PostInferenceHooks = {
  /** POST the task's result to the endpoint's (or the task's) callback URL. */
  CALLBACK: "callback",
} as const satisfies Record<string, PostInferenceHook>;

export type PostInferenceHooks = (typeof PostInferenceHooks)[keyof typeof PostInferenceHooks];
