/**
 * The body of a sync response and of one streaming event (`wire-protocol.md` §5): `syncResponseBody` of
 * `@launch/protocol`, shared with the gateway, which answers the very same bytes when it sends a sync
 * task straight to a runnable image's model server.
 */
export { syncResponseBody } from "@launch/protocol";
