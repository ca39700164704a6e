/**
 * Model bundles (`wire-protocol.md` §3): create (v1 and v2), read within the caller's team, latest by
 * name, list, and clone with a new app_config. Bundles are immutable; a clone is a new bundle.
 */
import {
  type BundleFlavor,
  type BundleOrderBy,
  type CloneBundleRequest,
  type CreateBundleV1Request,
  type CreateBundleV2Request,
  type Framework,
  LaunchError,
  newId,
} from "@launch/protocol";
import type { Principal } from "../gateway/principal.js";
import type { BundleRecord, Store } from "../store/port.js";

/** Who is acting: the bundle is owned by the team and created by the user. */
export type Actor = Pick<Principal, "userId" | "teamId">;

/** The reference server's message; another team's bundle gets the same one. */
export const BUNDLE_NOT_FOUND = "The specified model bundle could not be found.";

/** The defaults the spec lists for runnable-image flavors, filled when a field is absent or null. */
export const RUNNABLE_IMAGE_DEFAULTS = {
  protocol: "http",
  predict_route: "/predict",
  healthcheck_route: "/readyz",
  env: {},
  readiness_initial_delay_seconds: 120,
  extra_routes: [],
  routes: [],
  forwarder_type: "default",
} as const;

const RUNNABLE_IMAGE_FIELDS = [
  "repository",
  "tag",
  "command",
  ...(Object.keys(RUNNABLE_IMAGE_DEFAULTS) as (keyof typeof RUNNABLE_IMAGE_DEFAULTS)[]),
  "worker_command",
  "worker_env",
] as const;

type Json = Record<string, unknown>;

/**
 * A validated flavor as stored: the spec's defaults filled, fields the variant does not know dropped
 * (clients of other versions send extra keys; the reference ignores them too), `triton_*` fields kept.
 *
 * @example normalizeFlavor({ flavor: "runnable_image", repository: "r", tag: "1", command: ["node"] })
 *   // { flavor: "runnable_image", repository: "r", ..., predict_route: "/predict", env: {}, ... }
 */
export function normalizeFlavor(input: Json): BundleFlavor {
  const flavor = input.flavor as BundleFlavor["flavor"];
  switch (flavor) {
    case "runnable_image":
      return { flavor, ...runnableImage(input) } as BundleFlavor;
    case "streaming_enhanced_runnable_image":
      return {
        flavor,
        ...runnableImage(input),
        command: input.command ?? [],
        streaming_command: input.streaming_command,
        streaming_predict_route: input.streaming_predict_route ?? "/stream",
      } as BundleFlavor;
    case "triton_enhanced_runnable_image": {
      const triton = Object.fromEntries(Object.entries(input).filter(([k]) => k.startsWith("triton_")));
      return { flavor, ...runnableImage(input), ...triton } as BundleFlavor;
    }
    case "cloudpickle_artifact":
      return {
        flavor,
        ...artifact(input),
        load_predict_fn: input.load_predict_fn,
        load_model_fn: input.load_model_fn,
      } as BundleFlavor;
    case "zip_artifact":
      return {
        flavor,
        ...artifact(input),
        load_predict_fn_module_path: input.load_predict_fn_module_path,
        load_model_fn_module_path: input.load_model_fn_module_path,
      } as BundleFlavor;
    default:
      throw LaunchError.validation([
        {
          loc: ["body", "flavor", "flavor"],
          msg: `unknown flavor ${JSON.stringify(flavor)}`,
          type: "union_tag_invalid",
        },
      ]);
  }
}

function runnableImage(input: Json): Json {
  const out: Json = {};
  for (const field of RUNNABLE_IMAGE_FIELDS) {
    const value = input[field];
    const fallback = (RUNNABLE_IMAGE_DEFAULTS as Json)[field];
    out[field] = value ?? (fallback === undefined ? null : structuredClone(fallback));
  }
  return out;
}

function artifact(input: Json): Json {
  return {
    requirements: input.requirements,
    framework: normalizeFramework(input.framework as Json),
    location: input.location,
    app_config: input.app_config ?? null,
  };
}

function normalizeFramework(input: Json): Framework {
  switch (input.framework_type) {
    case "pytorch":
      return { framework_type: "pytorch", pytorch_image_tag: String(input.pytorch_image_tag) };
    case "tensorflow":
      return { framework_type: "tensorflow", tensorflow_version: String(input.tensorflow_version) };
    case "custom_base_image":
      return {
        framework_type: "custom_base_image",
        image_repository: String(input.image_repository),
        image_tag: String(input.image_tag),
      };
    default:
      return { framework_type: "node", node_version: (input.node_version as string | null) ?? null };
  }
}

/**
 * Creates a bundle from a `POST /v2/model-bundles` body (already checked against its JSON schema).
 *
 * @example const bundle = await createBundleV2(store, principal, body, new Date());
 */
export async function createBundleV2(
  store: Store,
  actor: Actor,
  body: CreateBundleV2Request,
  now: Date,
): Promise<BundleRecord> {
  const record: BundleRecord = {
    id: newId("bundle"),
    owner: actor.teamId,
    createdBy: actor.userId,
    name: body.name,
    createdAt: now.toISOString(),
    apiVersion: 2,
    flavor: normalizeFlavor(body.flavor as unknown as Json),
    metadata: body.metadata ?? {},
    schemaLocation: body.schema_location,
    modelArtifactIds: [],
    v1: null,
  };
  await store.insertBundle(record);
  return record;
}

/**
 * Creates a bundle from a legacy `POST /v1/model-bundles` body. The v1 fields are kept for an exact
 * echo through the v1 routes; the flavor is derived as the reference server derives it: cloudpickle
 * and zip become artifact flavors (the load functions read from `metadata` when present, else ""), and
 * `lira` becomes a runnable image with stub values (a lira bundle names no image).
 */
export async function createBundleV1(
  store: Store,
  actor: Actor,
  body: CreateBundleV1Request,
  now: Date,
): Promise<BundleRecord> {
  const metadata = body.metadata ?? {};
  const envParams = v1EnvParams(body.env_params as Json);
  const app_config = body.app_config ?? null;
  let flavor: BundleFlavor;
  if (body.packaging_type === "lira") {
    flavor = normalizeFlavor({ flavor: "runnable_image", repository: "", tag: "", command: [] });
  } else {
    const common = {
      requirements: body.requirements,
      framework: frameworkFromEnvParams(envParams),
      location: body.location,
      app_config,
    };
    const text = (key: string): string =>
      typeof metadata[key] === "string" ? (metadata[key] as string) : "";
    flavor =
      body.packaging_type === "zip"
        ? {
            flavor: "zip_artifact",
            ...common,
            load_predict_fn_module_path: text("load_predict_fn_module_path"),
            load_model_fn_module_path: text("load_model_fn_module_path"),
          }
        : {
            flavor: "cloudpickle_artifact",
            ...common,
            load_predict_fn: text("load_predict_fn"),
            load_model_fn: text("load_model_fn"),
          };
  }
  const record: BundleRecord = {
    id: newId("bundle"),
    owner: actor.teamId,
    createdBy: actor.userId,
    name: body.name,
    createdAt: now.toISOString(),
    apiVersion: 1,
    flavor,
    metadata,
    schemaLocation: body.schema_location ?? null,
    modelArtifactIds: [],
    v1: {
      location: body.location,
      requirements: body.requirements,
      env_params: envParams,
      packaging_type: body.packaging_type,
      app_config,
    },
  };
  await store.insertBundle(record);
  return record;
}

/** `env_params` in the reference's full shape (every key present, null when unused). */
export function v1EnvParams(input: Json): Json {
  const out: Json = {
    framework_type: input.framework_type,
    pytorch_image_tag: input.pytorch_image_tag ?? null,
    tensorflow_version: input.tensorflow_version ?? null,
    ecr_repo: input.ecr_repo ?? null,
    image_tag: input.image_tag ?? null,
  };
  if (input.framework_type === "node") out.node_version = input.node_version ?? null;
  return out;
}

function frameworkFromEnvParams(env: Json): Framework {
  return normalizeFramework({ ...env, image_repository: env.ecr_repo });
}

/** The bundle with this id if the caller's team owns it; otherwise 404, whether missing or not ours. */
export async function getOwnedBundle(store: Store, actor: Actor, id: string): Promise<BundleRecord> {
  const record = await store.getBundle(id);
  if (!record || record.owner !== actor.teamId) throw new LaunchError("not_found", BUNDLE_NOT_FOUND);
  return record;
}

/** The newest bundle of that name in the caller's team, or 404. */
export async function latestOwnedBundle(store: Store, actor: Actor, name: string): Promise<BundleRecord> {
  const record = await store.latestBundle(actor.teamId, name);
  if (!record) throw new LaunchError("not_found", BUNDLE_NOT_FOUND);
  return record;
}

/** The caller's team's bundles, optionally of one name, oldest first unless `orderBy` says otherwise. */
export function listOwnedBundles(
  store: Store,
  actor: Actor,
  query: { name?: string | undefined; orderBy?: BundleOrderBy | undefined },
): Promise<BundleRecord[]> {
  return store.listBundles({ owner: actor.teamId, name: query.name, orderBy: query.orderBy ?? "oldest" });
}

/**
 * Clones a bundle the caller's team owns into a new bundle (new id, new `created_at`, created by the
 * caller). `new_app_config`, when given, replaces the app_config: in the flavor for artifact flavors,
 * and in the v1 view for every bundle. `metadata.__cloned_from_bundle_id` records the original, as the
 * reference server does.
 */
export async function cloneBundle(
  store: Store,
  actor: Actor,
  request: CloneBundleRequest,
  now: Date,
): Promise<BundleRecord> {
  const original = await getOwnedBundle(store, actor, request.original_model_bundle_id);
  const newAppConfig = request.new_app_config ?? undefined;
  let flavor = structuredClone(original.flavor);
  let v1 = original.v1 ? structuredClone(original.v1) : null;
  if (newAppConfig !== undefined) {
    if ("app_config" in flavor) flavor = { ...flavor, app_config: newAppConfig };
    v1 = { ...(v1 ?? {}), app_config: newAppConfig };
  }
  const record: BundleRecord = {
    ...structuredClone(original),
    id: newId("bundle"),
    createdBy: actor.userId,
    createdAt: now.toISOString(),
    flavor,
    metadata: { ...original.metadata, __cloned_from_bundle_id: original.id },
    v1,
  };
  await store.insertBundle(record);
  return record;
}
