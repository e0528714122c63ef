import { PACKAGE_VERSION, parameterSchema } from '../manifest.js';
import { listOperations, type OperationDefinition } from '../operations/index.js';
import { STREAM_MEDIA_TYPES } from './stream.js';

/**
 * The OpenAPI 3.1 document of the service, generated from the operation
 * registry: one path per operation, its request body the operation's
 * parameter schema (JSON Schema 2020-12, as OpenAPI 3.1 uses).
 */

export const OPERATION_PATH_PREFIX = '/v1/operations/';


const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/**
 * Zod emits `$defs` with `#/$defs/...` references for shared or recursive
 * parts. Inside an OpenAPI document those would resolve against the
 * document root, so they are moved to components.schemas.
 */
function hoistDefs(op: string, schema: Record<string, unknown>, components: Record<string, unknown>): Record<string, unknown> {
  const defs = schema.$defs as Record<string, unknown> | undefined;
  if (!defs) return schema;
  const { $defs: _drop, ...rest } = schema;
  const rename = (name: string) => `${op}.${name}`;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) =>
        k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? [k, `#/components/schemas/${rename(x.slice('#/$defs/'.length))}`] : [k, rewrite(x)],
      ),
    );
  };
  for (const [name, def] of Object.entries(defs)) components[rename(name)] = rewrite(def);
  return rewrite(rest) as Record<string, unknown>;
}

function operationPath(op: OperationDefinition, schemas: Record<string, unknown>): Record<string, unknown> {
  const params = hoistDefs(op.name, parameterSchema(op), schemas);
  const required = Array.isArray(params.required) && params.required.length > 0;
  const ok: Record<string, unknown> = { 'application/json': { schema: {} } };
  if (op.openStream) {
    for (const t of STREAM_MEDIA_TYPES) ok[t] = { schema: { type: 'string', contentMediaType: t } };
  }
  const streamNote = op.openStream
    ? `\n\nStream form: send \`Accept: ${STREAM_MEDIA_TYPES.join('` or `')}\` to receive the data itself as the response body instead of the JSON result.`
    : '';
  return {
    post: {
      operationId: op.name,
      summary: op.title,
      description: `${op.description}${streamNote}\n\nSafety: ${op.safety}${op.idempotent ? ' (idempotent)' : ''}.${op.minApiVersion ? ` Needs Engine API ${op.minApiVersion}+.` : ''}`,
      tags: [op.category],
      parameters: [{ $ref: '#/components/parameters/endpoint' }],
      requestBody: {
        required,
        description: 'The operation\'s parameters as a JSON object (an empty body means no parameters)',
        content: { 'application/json': { schema: params } },
      },
      responses: {
        '200': { description: op.result, content: ok },
        '400': errorRef('BadRequest'),
        '401': errorRef('Unauthorized'),
        '403': errorRef('Forbidden'),
        '404': errorRef('NotFound'),
        '409': errorRef('Conflict'),
        '429': errorRef('TooManyRequests'),
        '502': errorRef('BadGateway'),
        '504': errorRef('GatewayTimeout'),
      },
      'x-safety': op.safety,
      'x-idempotent': op.idempotent,
      'x-streaming': op.streaming ?? false,
      'x-stream-form': Boolean(op.openStream),
    },
  };
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'status', 'message', 'operation'],
      properties: {
        code: { type: 'string', description: 'Stable error code (INVALID_PARAMS, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, …)' },
        status: { type: 'integer', description: 'HTTP status of this response' },
        message: { type: 'string', description: 'What went wrong, for people' },
        operation: { type: ['string', 'null'], description: 'The operation called' },
        engine_status: { type: 'integer', description: "The Engine's (or its proxy's) HTTP status, when it answered" },
        retryable: { type: 'boolean', description: 'Sending the same call again may succeed and does no harm' },
        outcome_unknown: { type: 'boolean', description: 'A write may or may not have taken effect' },
        details: { type: 'object', description: 'Extra facts: rule for FORBIDDEN, parameters for INVALID_PARAMS, engine_message …' },
      },
    },
  },
};

function errorResponse(description: string, extra: Record<string, unknown> = {}) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }, ...extra };
}

let cached: Record<string, unknown> | undefined;

export function buildOpenApi(): Record<string, unknown> {
  if (cached) return cached;
  const schemas: Record<string, unknown> = { Error: errorSchema };
  const paths: Record<string, unknown> = {};
  const ops = listOperations();
  for (const op of ops) paths[`${OPERATION_PATH_PREFIX}${op.name}`] = operationPath(op, schemas);
  const meta = (summary: string, description: string, okDescription: string, extra: Record<string, unknown> = {}) => ({
    get: {
      summary,
      description,
      tags: ['service'],
      responses: { '200': { description: okDescription, content: { 'application/json': { schema: { type: 'object' } } } }, '401': errorRef('Unauthorized'), ...extra },
    },
  });
  paths['/v1/operations'] = meta('List operations', 'Every operation with its category, safety class and path; `allowed` says whether the server policy and your key let you run it.', '{operations: [...]}');
  paths['/v1/manifest'] = meta('Manifest', 'Configuration fields and every operation with its parameter schema.', 'The manifest');
  paths['/v1/health'] = {
    get: {
      ...meta('Health', 'Reachability and negotiated API version of each Engine endpoint. Changes nothing on the Engine. 503 when an endpoint is unreachable.', '{ok, endpoints: {name: health}}').get,
      parameters: [{ $ref: '#/components/parameters/endpoint' }],
      responses: {
        '200': { description: 'Every endpoint asked is reachable', content: { 'application/json': { schema: { type: 'object' } } } },
        '503': { description: 'An endpoint is unreachable (same body)', content: { 'application/json': { schema: { type: 'object' } } } },
        '400': errorRef('BadRequest'),
        '401': errorRef('Unauthorized'),
      },
    },
  };
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'Docker Connector',
      version: PACKAGE_VERSION,
      description:
        'Drive the Docker Engine API through named, validated operations. `POST /v1/operations/{name}` with the parameters as a JSON body runs one; errors come back as `{"error": {code, status, message, operation}}`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [...new Set(ops.map((o) => o.category)), 'service'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key from the service configuration: `Authorization: Bearer <key>`' } },
      parameters: {
        endpoint: {
          name: 'endpoint',
          in: 'query',
          required: false,
          description: 'Name of the Engine endpoint to use (default: the first configured)',
          schema: { type: 'string' },
        },
      },
      schemas,
      responses: {
        BadRequest: errorResponse('Invalid parameters, unknown endpoint, or a body that is not a JSON object (INVALID_PARAMS)'),
        Unauthorized: errorResponse('Missing or unknown API key (UNAUTHORIZED)'),
        Forbidden: errorResponse('Refused by the server policy (read_only, allow, deny) or the key\'s scopes (FORBIDDEN); details.rule names the rule'),
        NotFound: errorResponse('No such operation (UNKNOWN_OPERATION) or no such object on the Engine (NOT_FOUND)'),
        Conflict: errorResponse('The Engine reports a conflict (CONFLICT), e.g. a name in use'),
        TooManyRequests: errorResponse('Rate limit of the key (or of the Engine connection) reached (RATE_LIMITED)', {
          headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
        }),
        BadGateway: errorResponse(
          'The Engine failed or could not be reached (ENGINE_ERROR, UNAVAILABLE, CONNECTION_FAILED, TLS_ERROR, STREAM_ERROR, API_VERSION_UNSUPPORTED), or it refused the connector itself (UNAUTHORIZED / FORBIDDEN with engine_status)',
        ),
        GatewayTimeout: errorResponse('The call took too long (TIMEOUT); for writes the outcome may be unknown'),
      },
    },
  };
  return cached;
}
