/**
 * Process groups of child processes. A runtime starts its child with `detached: true`, which makes the
 * child the leader of a new group; signalling `-pid` then reaches everything the child started.
 * Groups still alive when this process exits are killed, so a worker that dies of an exception leaves
 * no model process behind.
 */

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Sends `signal` to every process of the group led by `pid`. False when the group is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** Registers a group to kill when this process exits. Returns the function that forgets it. */
export function trackGroup(pid: number): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const group of liveGroups) signalGroup(group, "SIGKILL");
    });
  }
  liveGroups.add(pid);
  return () => {
    liveGroups.delete(pid);
  };
}
