/** The arguments of the SDK's bundle methods, in camelCase. */
import type { BundleOrderBy, BundleV2 } from "@launch/protocol";
import type { ModelBundleFlavorInput } from "./flavors.js";

/** `POST /v2/model-bundles` and clone response: the new bundle's id. */
export interface CreateModelBundleV2Response {
  model_bundle_id: string;
}

/** `GET /v2/model-bundles` response. */
export interface ListModelBundlesV2Response {
  model_bundles: BundleV2[];
}

export interface CreateModelBundleV2Options {
  modelBundleName: string;
  /**
   * Where the request/response JSON schemas are (`s3://bucket/key` from {@link LaunchClient.uploadArtifact}).
   * When absent, the SDK uploads an empty schema document first, as the server requires a location.
   */
  schemaLocation?: string | undefined;
  flavor: ModelBundleFlavorInput;
  metadata?: Record<string, unknown> | undefined;
}

export interface CreateModelBundleFromRunnableImageV2Options {
  modelBundleName: string;
  /** JSON Schema of the request body; uploaded with the response schema as the bundle's schema document. */
  requestSchema?: Record<string, unknown> | undefined;
  /** JSON Schema of the response body. */
  responseSchema?: Record<string, unknown> | undefined;
  /** Image repository, e.g. `"python"` or `"ghcr.io/me/model"`. */
  repository: string;
  tag: string;
  /** The command that starts an HTTP server on port 5005. */
  command: string[];
  env?: Record<string, string> | undefined;
  /** Default `/readyz`. */
  healthcheckRoute?: string | undefined;
  /** Default `/predict`. */
  predictRoute?: string | undefined;
  /** Default 120. */
  readinessInitialDelaySeconds?: number | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface ListModelBundlesV2Options {
  /** Only bundles of this name. */
  modelName?: string | undefined;
  orderBy?: BundleOrderBy | undefined;
}

export interface CloneModelBundleWithChangesV2Options {
  originalModelBundleId: string;
  /** Replaces the clone's `app_config` (artifact flavors). */
  newAppConfig?: Record<string, unknown> | null | undefined;
}

/** A bundle given by name (the latest of that name), by id (`bun_...`), or as a bundle object. */
export type ModelBundleRef = string | Pick<BundleV2, "id">;

export interface CreateModelBundleFromDirsV2Options {
  modelBundleName: string;
  /** A directory packed at the root of the bundle: `model.mjs#loadModel` names `<baseDir>/model.mjs`. */
  baseDir?: string | undefined;
  /**
   * Several directories, each packed under its own name as the Python client's `base_paths`:
   * `my_model/model.mjs#loadModel` names `my_model/model.mjs`. Give `baseDir` or `baseDirs`, not both.
   */
  baseDirs?: string[] | undefined;
  /** `module#export` of `loadModel(appConfig)`, e.g. `model.mjs#loadModel` (default export name `loadModel`). */
  loadModelFnModulePath: string;
  /** `module#export` of `loadPredictFn(model, appConfig)`, e.g. `model.mjs#loadPredictFn`. */
  loadPredictFnModulePath: string;
  /** npm packages the bundle needs (informational when `node_modules` is packed with it). */
  requirements?: string[] | undefined;
  /** Passed to `loadModel` and `loadPredictFn`; null when absent. */
  appConfig?: Record<string, unknown> | null | undefined;
  /** The Node version the bundle was written for (recorded on the bundle; default null). */
  nodeVersion?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** JSON Schema of the request; uploaded with the response schema as the bundle's schema document. */
  requestSchema?: Record<string, unknown> | undefined;
  /** JSON Schema of the response. */
  responseSchema?: Record<string, unknown> | undefined;
}
