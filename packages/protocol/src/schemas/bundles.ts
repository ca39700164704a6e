/**
 * JSON schemas of the model bundle routes (`wire-protocol.md` §3). The gateway validates request bodies
 * with them and publishes them in `/openapi.json`. Defaults that the spec lists are filled by the server
 * (`services/bundles.ts`), not by the schema, so that the same defaults apply to every way in.
 */
import { FLAVOR_NAMES } from "../bundles.js";
import { type JsonSchema, nullable, objectSchema, stringArraySchema, stringMapSchema } from "./common.js";

const route = { type: "string", pattern: "^/", description: "An HTTP path starting with `/`." } as const;

/** `framework` of artifact flavors, a union on `framework_type`. */
export const frameworkSchema = {
  type: "object",
  description: "The base environment of an artifact bundle, by `framework_type`.",
  discriminator: { propertyName: "framework_type" },
  required: ["framework_type"],
  oneOf: [
    {
      type: "object",
      title: "PytorchFramework",
      properties: {
        framework_type: { const: "pytorch" },
        pytorch_image_tag: { type: "string", minLength: 1 },
      },
      required: ["framework_type", "pytorch_image_tag"],
    },
    {
      type: "object",
      title: "TensorflowFramework",
      properties: {
        framework_type: { const: "tensorflow" },
        tensorflow_version: { type: "string", minLength: 1 },
      },
      required: ["framework_type", "tensorflow_version"],
    },
    {
      type: "object",
      title: "CustomFramework",
      properties: {
        framework_type: { const: "custom_base_image" },
        image_repository: { type: "string", minLength: 1 },
        image_tag: { type: "string", minLength: 1 },
      },
      required: ["framework_type", "image_repository", "image_tag"],
    },
    {
      type: "object",
      title: "NodeFramework",
      description: "[ext] A bundle written in JavaScript or TypeScript.",
      properties: {
        framework_type: { const: "node" },
        node_version: nullable({ type: "string" }),
      },
      required: ["framework_type"],
    },
  ],
} as const satisfies JsonSchema;

const runnableImageProperties = {
  repository: { type: "string", minLength: 1, description: "Image repository (or program name)." },
  tag: { type: "string", minLength: 1 },
  command: { ...stringArraySchema, description: "The command that starts the HTTP program (port 5005)." },
  protocol: { const: "http", description: 'Default "http".' },
  predict_route: { ...route, description: 'Default "/predict".' },
  healthcheck_route: { ...route, description: 'Default "/readyz".' },
  env: { ...nullable(stringMapSchema), description: "Default {}." },
  readiness_initial_delay_seconds: { type: "integer", minimum: 0, description: "Default 120." },
  extra_routes: { ...stringArraySchema, description: "Default []." },
  routes: { ...stringArraySchema, description: "Default []." },
  forwarder_type: { ...nullable({ type: "string" }), description: 'Default "default".' },
  worker_command: nullable(stringArraySchema),
  worker_env: nullable(stringMapSchema),
} as const;

export const runnableImageFlavorSchema = {
  type: "object",
  title: "RunnableImageFlavor",
  properties: { flavor: { const: "runnable_image" }, ...runnableImageProperties },
  required: ["flavor", "repository", "tag", "command"],
} as const satisfies JsonSchema;

export const streamingEnhancedRunnableImageFlavorSchema = {
  type: "object",
  title: "StreamingEnhancedRunnableImageFlavor",
  properties: {
    flavor: { const: "streaming_enhanced_runnable_image" },
    ...runnableImageProperties,
    command: { ...stringArraySchema, description: "Default []." },
    streaming_command: stringArraySchema,
    streaming_predict_route: { ...route, description: 'Server-sent events route. Default "/stream".' },
  },
  required: ["flavor", "repository", "tag", "streaming_command"],
} as const satisfies JsonSchema;

export const tritonEnhancedRunnableImageFlavorSchema = {
  type: "object",
  title: "TritonEnhancedRunnableImageFlavor",
  description: "A runnable image plus `triton_*` fields, which are stored and echoed as sent.",
  properties: {
    flavor: { const: "triton_enhanced_runnable_image" },
    ...runnableImageProperties,
    triton_model_repository: { type: "string" },
    triton_model_replicas: nullable(stringMapSchema),
    triton_num_cpu: { type: "number" },
    triton_commit_tag: { type: "string" },
    triton_storage: nullable({ type: "string" }),
    triton_memory: nullable({ type: "string" }),
    triton_readiness_initial_delay_seconds: { type: "integer", minimum: 0 },
  },
  required: [
    "flavor",
    "repository",
    "tag",
    "command",
    "triton_model_repository",
    "triton_num_cpu",
    "triton_commit_tag",
  ],
} as const satisfies JsonSchema;

const artifactProperties = {
  requirements: { ...stringArraySchema, description: "pip requirements (or npm packages for node)." },
  framework: frameworkSchema,
  location: { type: "string", minLength: 1, description: "`s3://bucket/key` of the uploaded artifact." },
  app_config: { ...nullable(objectSchema), description: "Passed to the model loader; null allowed." },
} as const;

export const cloudpickleArtifactFlavorSchema = {
  type: "object",
  title: "CloudpickleArtifactFlavor",
  properties: {
    flavor: { const: "cloudpickle_artifact" },
    ...artifactProperties,
    load_predict_fn: { type: "string", description: "Source text, for display." },
    load_model_fn: { type: "string", description: "Source text, for display." },
  },
  required: ["flavor", "requirements", "framework", "location", "load_predict_fn", "load_model_fn"],
} as const satisfies JsonSchema;

export const zipArtifactFlavorSchema = {
  type: "object",
  title: "ZipArtifactFlavor",
  properties: {
    flavor: { const: "zip_artifact" },
    ...artifactProperties,
    load_predict_fn_module_path: { type: "string", minLength: 1 },
    load_model_fn_module_path: { type: "string", minLength: 1 },
  },
  required: [
    "flavor",
    "requirements",
    "framework",
    "location",
    "load_predict_fn_module_path",
    "load_model_fn_module_path",
  ],
} as const satisfies JsonSchema;

/** `flavor`, a union on its `flavor` key; errors name the fields of the chosen variant only. */
export const flavorSchema = {
  type: "object",
  description: `How to run the model, by \`flavor\`: ${FLAVOR_NAMES.join(", ")}.`,
  discriminator: { propertyName: "flavor" },
  required: ["flavor"],
  oneOf: [
    runnableImageFlavorSchema,
    streamingEnhancedRunnableImageFlavorSchema,
    tritonEnhancedRunnableImageFlavorSchema,
    cloudpickleArtifactFlavorSchema,
    zipArtifactFlavorSchema,
  ],
} as const satisfies JsonSchema;

/** `POST /v2/model-bundles` body. */
export const createBundleV2BodySchema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 255 },
    schema_location: {
      type: "string",
      description: "Where the request/response JSON schemas were uploaded.",
    },
    flavor: flavorSchema,
    metadata: nullable(objectSchema),
  },
  required: ["name", "schema_location", "flavor"],
} as const satisfies JsonSchema;

/** `POST /v1/model-bundles` body (legacy). `env_params` must carry the field its `framework_type` needs. */
export const createBundleV1BodySchema = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 255 },
    location: { type: "string" },
    requirements: stringArraySchema,
    env_params: {
      type: "object",
      properties: {
        framework_type: { enum: ["pytorch", "tensorflow", "custom_base_image", "node"] },
        pytorch_image_tag: nullable({ type: "string" }),
        tensorflow_version: nullable({ type: "string" }),
        ecr_repo: nullable({ type: "string" }),
        image_tag: nullable({ type: "string" }),
        node_version: nullable({ type: "string" }),
      },
      required: ["framework_type"],
      allOf: [
        {
          if: { properties: { framework_type: { const: "pytorch" } } },
          // biome-ignore lint/suspicious/noThenProperty: the JSON Schema `if`/`then` keyword.
          then: { required: ["pytorch_image_tag"], properties: { pytorch_image_tag: { type: "string" } } },
        },
        {
          if: { properties: { framework_type: { const: "tensorflow" } } },
          // biome-ignore lint/suspicious/noThenProperty: the JSON Schema `if`/`then` keyword.
          then: { required: ["tensorflow_version"], properties: { tensorflow_version: { type: "string" } } },
        },
        {
          if: { properties: { framework_type: { const: "custom_base_image" } } },
          // biome-ignore lint/suspicious/noThenProperty: the JSON Schema `if`/`then` keyword.
          then: {
            required: ["ecr_repo", "image_tag"],
            properties: { ecr_repo: { type: "string" }, image_tag: { type: "string" } },
          },
        },
      ],
    },
    packaging_type: { enum: ["cloudpickle", "zip", "lira"] },
    metadata: nullable(objectSchema),
    app_config: nullable(objectSchema),
    schema_location: nullable({ type: "string" }),
  },
  required: ["name", "location", "requirements", "env_params", "packaging_type"],
} as const satisfies JsonSchema;

/** `POST /v{1,2}/model-bundles/clone-with-changes` body. */
export const cloneBundleBodySchema = {
  type: "object",
  properties: {
    original_model_bundle_id: { type: "string", minLength: 1 },
    new_app_config: { ...nullable(objectSchema), description: "Replaces the clone's app_config when given." },
  },
  required: ["original_model_bundle_id"],
} as const satisfies JsonSchema;

/** `?model_name=&order_by=` of the list routes. */
export const listBundlesQuerySchema = {
  type: "object",
  properties: {
    model_name: { type: "string", description: "Only bundles of this name." },
    order_by: { enum: ["newest", "oldest"], description: "By creation time; default oldest first." },
  },
} as const satisfies JsonSchema;

/** `?model_name=` of the latest routes. */
export const latestBundleQuerySchema = {
  type: "object",
  properties: { model_name: { type: "string", minLength: 1 } },
  required: ["model_name"],
} as const satisfies JsonSchema;

export const bundleIdParamsSchema = {
  type: "object",
  properties: { model_bundle_id: { type: "string" } },
  required: ["model_bundle_id"],
} as const satisfies JsonSchema;

/** `{model_bundle_id}`: the answer to create and clone. */
export const bundleCreatedSchema = {
  type: "object",
  properties: { model_bundle_id: { type: "string" } },
  required: ["model_bundle_id"],
} as const satisfies JsonSchema;

/** `ModelBundleV2Response`. */
export const bundleV2Schema = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    metadata: objectSchema,
    created_at: { type: "string", format: "date-time" },
    model_artifact_ids: stringArraySchema,
    schema_location: nullable({ type: "string" }),
    flavor: flavorSchema,
  },
  required: ["id", "name", "metadata", "created_at", "model_artifact_ids", "schema_location", "flavor"],
} as const satisfies JsonSchema;

/** `ModelBundleV1Response`. */
export const bundleV1Schema = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    location: { type: "string" },
    requirements: stringArraySchema,
    env_params: objectSchema,
    packaging_type: { enum: ["cloudpickle", "zip", "lira"] },
    metadata: objectSchema,
    app_config: nullable(objectSchema),
    created_at: { type: "string", format: "date-time" },
    model_artifact_ids: stringArraySchema,
    schema_location: nullable({ type: "string" }),
  },
  required: [
    "id",
    "name",
    "location",
    "requirements",
    "env_params",
    "packaging_type",
    "metadata",
    "app_config",
    "created_at",
    "model_artifact_ids",
    "schema_location",
  ],
} as const satisfies JsonSchema;

export const listBundlesV2ResponseSchema = {
  type: "object",
  properties: { model_bundles: { type: "array", items: bundleV2Schema } },
  required: ["model_bundles"],
} as const satisfies JsonSchema;

export const listBundlesV1ResponseSchema = {
  type: "object",
  properties: { model_bundles: { type: "array", items: bundleV1Schema } },
  required: ["model_bundles"],
} as const satisfies JsonSchema;
