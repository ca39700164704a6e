/**
 * Building blocks of the JSON schemas (draft-07, as Fastify validates them and OpenAPI 3 documents them)
 * for request and response bodies. Schemas are plain data: no I/O, no validator here.
 */

/** A JSON schema object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** `T` or `null` (JSON schema type list). */
export function nullable(schema: JsonSchema & { type: string }): JsonSchema {
  return { ...schema, type: [schema.type, "null"] };
}

export const stringArraySchema = { type: "array", items: { type: "string" } } as const;

export const stringMapSchema = { type: "object", additionalProperties: { type: "string" } } as const;

/** Any JSON object. */
export const objectSchema = { type: "object", additionalProperties: true } as const;

/** `{"detail": "<message>", "code": "<code>"}`: every error except validation errors. */
export const errorBodySchema = {
  type: "object",
  description: "An error: `detail` says what was wrong; `code` is one of Launch's error codes.",
  properties: { detail: { type: "string" }, code: { type: "string" } },
  required: ["detail"],
} as const;

/** `{"detail": [{"loc", "msg", "type"}]}`: the 422 body, naming each field. */
export const validationErrorBodySchema = {
  type: "object",
  description: "The body did not match the schema; one entry per problem.",
  properties: {
    detail: {
      type: "array",
      items: {
        type: "object",
        properties: {
          loc: { type: "array", items: { anyOf: [{ type: "string" }, { type: "integer" }] } },
          msg: { type: "string" },
          type: { type: "string" },
        },
        required: ["loc", "msg", "type"],
      },
    },
    code: { type: "string" },
  },
  required: ["detail"],
} as const;

/** The error responses every authenticated route may give, for `schema.response`. */
export const authenticatedErrorResponses = {
  401: { ...errorBodySchema, description: "No credentials, or an unknown key." },
  422: validationErrorBodySchema,
} as const;
