/**
 * Converts between the store's records and SQL rows. JSON columns are TEXT; parsing and serialising
 * happen here and nowhere else, so every dialect reads and writes the same bytes.
 */
import type { EndpointStatus, EndpointType } from "@launch/protocol";
import type { BundleRecord, EndpointRecord, KeyRecord } from "../port.js";
import type { ApiKeysTable, BundlesTable, EndpointsTable } from "./tables.js";

/** A key record as an `api_keys` row. */
export function keyToRow(key: KeyRecord): ApiKeysTable {
  return {
    id: key.id,
    hash: key.hash,
    prefix: key.prefix,
    user_id: key.userId,
    team_id: key.teamId,
    role: key.role,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    last_used_at: key.lastUsedAt,
  };
}

/** An `api_keys` row as a key record. */
export function keyFromRow(row: ApiKeysTable): KeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    prefix: row.prefix,
    userId: row.user_id,
    teamId: row.team_id,
    role: row.role,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** A bundle record as a `bundles` row. */
export function bundleToRow(bundle: BundleRecord): BundlesTable {
  return {
    id: bundle.id,
    owner: bundle.owner,
    created_by: bundle.createdBy,
    name: bundle.name,
    created_at: bundle.createdAt,
    api_version: bundle.apiVersion,
    flavor: JSON.stringify(bundle.flavor),
    metadata: JSON.stringify(bundle.metadata),
    schema_location: bundle.schemaLocation,
    model_artifact_ids: JSON.stringify(bundle.modelArtifactIds),
    v1: bundle.v1 === null ? null : JSON.stringify(bundle.v1),
  };
}

/** A `bundles` row as a bundle record. */
export function bundleFromRow(row: BundlesTable): BundleRecord {
  return {
    id: row.id,
    owner: row.owner,
    createdBy: row.created_by,
    name: row.name,
    createdAt: row.created_at,
    apiVersion: Number(row.api_version) === 1 ? 1 : 2,
    flavor: JSON.parse(row.flavor),
    metadata: JSON.parse(row.metadata),
    schemaLocation: row.schema_location,
    modelArtifactIds: JSON.parse(row.model_artifact_ids),
    v1: row.v1 === null ? null : JSON.parse(row.v1),
  };
}

/** An endpoint record as an `endpoints` row. */
export function endpointToRow(endpoint: EndpointRecord): EndpointsTable {
  return {
    id: endpoint.id,
    owner: endpoint.owner,
    created_by: endpoint.createdBy,
    name: endpoint.name,
    endpoint_type: endpoint.endpointType,
    status: endpoint.status,
    status_reason: endpoint.statusReason,
    spec: JSON.stringify(endpoint.spec),
    version: endpoint.version,
    created_at: endpoint.createdAt,
    last_updated_at: endpoint.lastUpdatedAt,
  };
}

/** An `endpoints` row as an endpoint record. */
export function endpointFromRow(row: EndpointsTable): EndpointRecord {
  return {
    id: row.id,
    owner: row.owner,
    createdBy: row.created_by,
    name: row.name,
    endpointType: row.endpoint_type as EndpointType,
    status: row.status as EndpointStatus,
    statusReason: row.status_reason,
    spec: JSON.parse(row.spec),
    version: Number(row.version),
    createdAt: row.created_at,
    lastUpdatedAt: row.last_updated_at,
  };
}
