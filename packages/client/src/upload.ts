/**
 * Artifact uploads, as the Python client does them: ask the server for a short-lived upload URL
 * (`POST /v1/hosted_inference/model_bundle_upload` → `{signedUrl, bucket, key}`), `PUT` the raw bytes
 * there without credentials, and refer to the result as `s3://{bucket}/{key}`.
 */
import { errorFromResponse, ServerError } from "./errors.js";
import type { HttpTransport } from "./http.js";

export const UPLOAD_URL_PATH = "/v1/hosted_inference/model_bundle_upload";

/** `POST /v1/hosted_inference/model_bundle_upload` response. */
export interface UploadUrl {
  signedUrl: string;
  bucket: string;
  key: string;
}

/** Uploads bytes somewhere the server can read, returning the location (`s3://bucket/key`). */
export type ArtifactUploader = (bytes: Uint8Array) => Promise<string>;

/**
 * Uploads `bytes` through the server's upload URL and returns `s3://{bucket}/{key}`.
 *
 * @example const location = await uploadThroughServer(http, new TextEncoder().encode("{}"));
 */
export async function uploadThroughServer(http: HttpTransport, bytes: Uint8Array): Promise<string> {
  const upload = await http.request<UploadUrl>("POST", UPLOAD_URL_PATH, { body: {} });
  for (const field of ["signedUrl", "bucket", "key"] as const) {
    if (typeof upload?.[field] !== "string" || upload[field] === "") {
      throw new ServerError({
        status: 502,
        code: "internal",
        detail: `The upload route answered without ${field} (expected {signedUrl, bucket, key}).`,
        request: `POST ${UPLOAD_URL_PATH}`,
      });
    }
  }
  // A relative URL is relative to the server.
  const target = new URL(upload.signedUrl, `${http.baseUrl}/`).toString();
  const label = "PUT <upload URL>";
  const response = await http.send(
    target,
    { method: "PUT", body: bytes, headers: { "content-type": "application/octet-stream" } },
    label,
  );
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    throw errorFromResponse(response.status, body, response.headers, label);
  }
  await response.body?.cancel();
  return `s3://${upload.bucket}/${upload.key}`;
}
