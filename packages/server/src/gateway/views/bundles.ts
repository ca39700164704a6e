/**
 * How a stored bundle is shown on the wire: `ModelBundleV2Response` and `ModelBundleV1Response`.
 *
 * Every bundle has both views, whichever route created it:
 *
 * - v2 view: the stored flavor as is (v1 bundles got a flavor derived at create, see `createBundleV1`).
 * - v1 view of a bundle created through v1: the v1 fields exactly as created (`env_params` in its
 *   full shape), `app_config` replaced by a clone's `new_app_config`.
 * - v1 view of a bundle created through v2, as the reference server fills its legacy columns:
 *   - `cloudpickle_artifact` / `zip_artifact`: `location`, `requirements` and `app_config` from the
 *     flavor; `env_params` is the framework with `image_repository` renamed `ecr_repo` (every key
 *     present, null when unused; `node_version` too for the node framework); `packaging_type` is
 *     `cloudpickle` or `zip`.
 *   - runnable-image flavors (plain, streaming, triton): `location: "unused"`, `requirements: []`,
 *     `env_params: {framework_type: "custom_base_image", ecr_repo: <repository>, image_tag: <tag>}`,
 *     `packaging_type: "lira"`, `app_config: null` (or a clone's `new_app_config`).
 */
import type { BundleV1, BundleV2, PackagingType } from "@launch/protocol";
import { v1EnvParams } from "../../services/bundles.js";
import type { BundleRecord } from "../../store/port.js";

/** `ModelBundleV2Response`. */
export function toBundleV2(record: BundleRecord): BundleV2 {
  return {
    id: record.id,
    name: record.name,
    metadata: record.metadata,
    created_at: record.createdAt,
    model_artifact_ids: record.modelArtifactIds,
    schema_location: record.schemaLocation,
    flavor: record.flavor,
  };
}

type V1Fields = Pick<BundleV1, "location" | "requirements" | "env_params" | "packaging_type" | "app_config">;

/** `ModelBundleV1Response`. */
export function toBundleV1(record: BundleRecord): BundleV1 {
  const fields: V1Fields = { ...v1FieldsFromFlavor(record), ...(record.v1 as Partial<V1Fields> | null) };
  return {
    id: record.id,
    name: record.name,
    location: fields.location,
    requirements: fields.requirements,
    env_params: fields.env_params,
    packaging_type: fields.packaging_type,
    metadata: record.metadata,
    app_config: fields.app_config ?? null,
    created_at: record.createdAt,
    model_artifact_ids: record.modelArtifactIds,
    schema_location: record.schemaLocation,
  };
}

function v1FieldsFromFlavor(record: BundleRecord): V1Fields {
  const flavor = record.flavor;
  if (flavor.flavor === "cloudpickle_artifact" || flavor.flavor === "zip_artifact") {
    const { image_repository, ...framework } = flavor.framework as Record<string, unknown>;
    const packaging: PackagingType = flavor.flavor === "zip_artifact" ? "zip" : "cloudpickle";
    return {
      location: flavor.location,
      requirements: flavor.requirements,
      env_params: v1EnvParams({ ...framework, ecr_repo: image_repository }),
      packaging_type: packaging,
      app_config: flavor.app_config ?? null,
    };
  }
  return {
    location: "unused",
    requirements: [],
    env_params: v1EnvParams({
      framework_type: "custom_base_image",
      ecr_repo: flavor.repository,
      image_tag: flavor.tag,
    }),
    packaging_type: "lira",
    app_config: null,
  };
}
