/** Wire types of model bundles (`wire-protocol.md` §3). */

export type FrameworkType = "pytorch" | "tensorflow" | "custom_base_image" | "node";

export type Framework =
  | { framework_type: "pytorch"; pytorch_image_tag: string }
  | { framework_type: "tensorflow"; tensorflow_version: string }
  | { framework_type: "custom_base_image"; image_repository: string; image_tag: string }
  | { framework_type: "node"; node_version?: string | null };

export interface RunnableImageFlavor {
  flavor: "runnable_image";
  repository: string;
  tag: string;
  command: string[];
  protocol: "http";
  predict_route: string;
  healthcheck_route: string;
  env: Record<string, string>;
  readiness_initial_delay_seconds: number;
  extra_routes: string[];
  routes: string[];
  forwarder_type: string | null;
  worker_command: string[] | null;
  worker_env: Record<string, string> | null;
}

export interface StreamingEnhancedRunnableImageFlavor extends Omit<RunnableImageFlavor, "flavor"> {
  flavor: "streaming_enhanced_runnable_image";
  streaming_command: string[];
  streaming_predict_route: string;
}

export interface TritonEnhancedRunnableImageFlavor extends Omit<RunnableImageFlavor, "flavor"> {
  flavor: "triton_enhanced_runnable_image";
  /** Every `triton_*` field is stored and echoed as sent. */
  [tritonField: `triton_${string}`]: unknown;
}

export interface CloudpickleArtifactFlavor {
  flavor: "cloudpickle_artifact";
  requirements: string[];
  framework: Framework;
  location: string;
  load_predict_fn: string;
  load_model_fn: string;
  app_config: Record<string, unknown> | null;
}

export interface ZipArtifactFlavor {
  flavor: "zip_artifact";
  requirements: string[];
  framework: Framework;
  location: string;
  load_predict_fn_module_path: string;
  load_model_fn_module_path: string;
  app_config: Record<string, unknown> | null;
}

export type BundleFlavor =
  | RunnableImageFlavor
  | StreamingEnhancedRunnableImageFlavor
  | TritonEnhancedRunnableImageFlavor
  | CloudpickleArtifactFlavor
  | ZipArtifactFlavor;

export type FlavorName = BundleFlavor["flavor"];

export const FLAVOR_NAMES = [
  "runnable_image",
  "streaming_enhanced_runnable_image",
  "triton_enhanced_runnable_image",
  "cloudpickle_artifact",
  "zip_artifact",
] as const satisfies readonly FlavorName[];

/** `POST /v2/model-bundles` body. */
export interface CreateBundleV2Request {
  name: string;
  schema_location: string;
  flavor: BundleFlavor;
  metadata?: Record<string, unknown> | null;
}

/** `GET /v2/model-bundles/{id}` response. */
export interface BundleV2 {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  created_at: string;
  model_artifact_ids: string[];
  schema_location: string | null;
  flavor: BundleFlavor;
}

export type PackagingType = "cloudpickle" | "zip" | "lira";

/** `POST /v1/model-bundles` body (legacy). */
export interface CreateBundleV1Request {
  name: string;
  location: string;
  requirements: string[];
  env_params: {
    framework_type: FrameworkType;
    pytorch_image_tag?: string | null;
    tensorflow_version?: string | null;
    ecr_repo?: string | null;
    image_tag?: string | null;
  };
  packaging_type: PackagingType;
  metadata?: Record<string, unknown> | null;
  app_config?: Record<string, unknown> | null;
  schema_location?: string | null;
}

/** `ModelBundleV1Response`. */
export interface BundleV1 {
  id: string;
  name: string;
  location: string;
  requirements: string[];
  env_params: Record<string, unknown>;
  packaging_type: PackagingType;
  metadata: Record<string, unknown>;
  app_config: Record<string, unknown> | null;
  created_at: string;
  model_artifact_ids: string[];
  schema_location: string | null;
}

export interface CloneBundleRequest {
  original_model_bundle_id: string;
  new_app_config?: Record<string, unknown> | null;
}

export type BundleOrderBy = "newest" | "oldest";
