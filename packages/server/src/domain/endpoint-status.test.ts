import { ENDPOINT_STATUSES, type EndpointStatus, isLaunchError } from "@launch/protocol";
import { describe, expect, it } from "vitest";
import { canTransition, type EndpointEvent, transition } from "./endpoint-status.js";

function conflictOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isLaunchError(error)) {
      expect(error.code).toBe("conflict");
      expect(error.status).toBe(409);
      return error.message;
    }
    throw error;
  }
  throw new Error("expected a conflict");
}

describe("endpoint state machine", () => {
  it("walks create → pending → in progress → ready", () => {
    let state = transition(null, { type: "created" });
    expect(state).toEqual({ status: "UPDATE_PENDING", statusReason: null });
    state = transition(state.status, { type: "rollout_started" });
    expect(state.status).toBe("UPDATE_IN_PROGRESS");
    state = transition(state.status, { type: "rollout_succeeded" });
    expect(state).toEqual({ status: "READY", statusReason: null });
  });

  it("records the reason of a failed rollout and clears it on the next edit", () => {
    const failed = transition("UPDATE_IN_PROGRESS", { type: "rollout_failed", reason: "image not found" });
    expect(failed).toEqual({ status: "UPDATE_FAILED", statusReason: "image not found" });
    expect(transition(failed.status, { type: "edited" })).toEqual({
      status: "UPDATE_PENDING",
      statusReason: null,
    });
  });

  it("sends edits and restarts from every live status back to UPDATE_PENDING", () => {
    for (const from of ["UPDATE_PENDING", "UPDATE_IN_PROGRESS", "READY", "UPDATE_FAILED"] as const) {
      expect(transition(from, { type: "edited" }).status).toBe("UPDATE_PENDING");
      expect(transition(from, { type: "restart" }).status).toBe("UPDATE_PENDING");
    }
  });

  it("refuses to edit or restart an endpoint that is being deleted", () => {
    expect(conflictOf(() => transition("DELETE_IN_PROGRESS", { type: "edited" }))).toBe(
      "Cannot edit a model endpoint that is being deleted.",
    );
    expect(conflictOf(() => transition("DELETE_IN_PROGRESS", { type: "restart" }))).toMatch(/being deleted/);
    expect(conflictOf(() => transition("DELETE_IN_PROGRESS", { type: "rollout_started" }))).toMatch(
      /being deleted/,
    );
  });

  it("allows delete from every status, including a repeated delete", () => {
    for (const from of ENDPOINT_STATUSES) {
      expect(transition(from, { type: "delete_requested" }).status).toBe("DELETE_IN_PROGRESS");
    }
    expect(() => transition(null, { type: "delete_requested" })).toThrow(/does not exist/);
  });

  it("only creates from nothing", () => {
    for (const from of ENDPOINT_STATUSES) {
      expect(canTransition(from, "created")).toBe(false);
    }
    expect(conflictOf(() => transition("READY", { type: "created" }))).toBe(
      "Cannot create a model endpoint in status READY.",
    );
  });

  it("refuses rollout events out of order", () => {
    const bad: [EndpointStatus, EndpointEvent][] = [
      ["READY", { type: "rollout_succeeded" }],
      ["READY", { type: "rollout_started" }],
      ["UPDATE_PENDING", { type: "rollout_succeeded" }],
      ["UPDATE_FAILED", { type: "rollout_started" }],
      ["READY", { type: "rollout_failed", reason: "x" }],
    ];
    for (const [from, event] of bad) {
      expect(canTransition(from, event.type)).toBe(false);
      expect(() => transition(from, event)).toThrow(/Cannot/);
    }
    expect(transition("UPDATE_PENDING", { type: "rollout_failed", reason: "no bundle" }).status).toBe(
      "UPDATE_FAILED",
    );
  });
});
