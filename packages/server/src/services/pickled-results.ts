/**
 * `return_pickled` results (`wire-protocol.md` §5): a Python bundle's output pickled by the harness is
 * stored in the artifact store under the owning team's `results/` folder, and the task's `result` is
 * `{"result_url": "s3://<bucket>/<key>"}`, downloadable by that team at `GET /v1/artifacts/<bucket>/<key>`.
 */
import { newId } from "@launch/protocol";
import { type ArtifactStore, formatLocation, parseLocation } from "../artifacts/port.js";
import { ARTIFACT_BUCKET, artifactKey } from "./uploads.js";

/**
 * Stores the base64 pickle of task `taskId`'s output for `teamId`; resolves to its location. Each call
 * writes a key of its own (`<taskId>-<upload id>.pkl`), so a late attempt that loses can never overwrite
 * the winner's result; the loser deletes its own with `deletePickledResult`.
 *
 * @example await storePickledResult(artifacts, "ml-team", "tsk_01…", "gASVAw…") // "s3://launch/results/ml-team/tsk_01…-upl_….pkl"
 */
export async function storePickledResult(
  artifacts: ArtifactStore,
  teamId: string,
  taskId: string,
  pickledBase64: string,
): Promise<string> {
  const key = artifactKey("results", teamId, `${taskId}-${newId("upload")}.pkl`);
  await artifacts.put(ARTIFACT_BUCKET, key, Buffer.from(pickledBase64, "base64"));
  return formatLocation(ARTIFACT_BUCKET, key);
}

/** Deletes a pickled result stored by `storePickledResult` (an attempt that lost its lease). */
export async function deletePickledResult(artifacts: ArtifactStore, location: string): Promise<void> {
  const parsed = parseLocation(location);
  if (parsed) await artifacts.delete(parsed.bucket, parsed.key).catch(() => false);
}
