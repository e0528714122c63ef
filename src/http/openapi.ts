import { PACKAGE_VERSION, parameterSchema, parameterSchemaFor, resultSchemaOf } from '../manifest.js';
import { listOperations, type OperationDefinition } from '../operations/index.js';
import { streamMediaTypes } from './stream.js';

/**
 * The OpenAPI 3.1 document of the service, generated from the operation
 * catalogue: one path per operation, its request body the operation's
 * parameter schema (JSON Schema 2020-12, as OpenAPI 3.1 uses).
 */

export const OPERATION_PATH_PREFIX = '/v1/operations/';


const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/**
 * Zod emits `$defs` with `#/$defs/...` references for shared or recursive
 * parts. Inside an OpenAPI document those would resolve against the
 * document root, so they are moved to components.schemas under
 * `<prefix>.<name>` (the operation's name for parameters,
 * `<operation>.result` for results, so the two never collide). A reference
 * to the schema's own root (`#`, a recursive root) makes the whole schema a
 * component `<prefix>` and the schema a reference to it.
 */
export function hoistDefs(prefix: string, schema: Record<string, unknown>, components: Record<string, unknown>): Record<string, unknown> {
  const defs = schema.$defs as Record<string, unknown> | undefined;
  const selfRef = JSON.stringify(schema).includes('"$ref":"#"');
  if (!defs && !selfRef) return schema;
  const { $defs: _drop, ...rest } = schema;
  const rename = (name: string) => `${prefix}.${name}`;
  const target = (ref: string) => (ref === '#' ? `#/components/schemas/${prefix}` : ref.startsWith('#/$defs/') ? `#/components/schemas/${rename(ref.slice('#/$defs/'.length))}` : ref);
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => (k === '$ref' && typeof x === 'string' ? [k, target(x)] : [k, rewrite(x)])));
  };
  for (const [name, def] of Object.entries(defs ?? {})) components[rename(name)] = rewrite(def);
  const body = rewrite(rest) as Record<string, unknown>;
  if (!selfRef) return body;
  components[prefix] = body;
  return { $ref: `#/components/schemas/${prefix}` };
}

/** The media types of an operation's raw-stream form, as the service negotiates them (none without one). */
export function streamFormTypes(op: OperationDefinition): string[] {
  return op.openStream && op.streamContentType ? streamMediaTypes(op.streamContentType) : [];
}

/** With several endpoints, a read operation may fan out: `?endpoint=a,b` or `?endpoint=all` (hunts fan out by themselves). */
function fansOut(op: OperationDefinition, severalEndpoints: boolean): boolean {
  return severalEndpoints && op.safety === 'read' && !op.acrossEndpoints;
}

/** `{results: {name: result}, errors: {name: {code, message}}}`: what a fan-out answers. */
function fanOutSchema(result: unknown): Record<string, unknown> {
  return {
    type: 'object',
    description: 'A fan-out (?endpoint=a,b or ?endpoint=all): each endpoint\'s result, or its failure',
    required: ['results', 'errors'],
    additionalProperties: false,
    properties: {
      results: { type: 'object', description: 'Each endpoint that answered: its result', additionalProperties: result },
      errors: { type: 'object', description: 'Each endpoint that failed: its error code and message', additionalProperties: { $ref: '#/components/schemas/EndpointFailure' } },
    },
  };
}

const endpointFailureSchema = {
  type: 'object',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: { code: { type: 'string', description: 'Stable error code' }, message: { type: 'string', description: 'What went wrong, naming the endpoint' } },
};

function operationPath(op: OperationDefinition, schemas: Record<string, unknown>, endpointNames: readonly string[]): Record<string, unknown> {
  const severalEndpoints = endpointNames.length > 1;
  // A hunt's `endpoints` takes the configured names only.
  const params = hoistDefs(op.name, parameterSchemaFor(op, parameterSchema(op), endpointNames), schemas);
  const required = Array.isArray(params.required) && params.required.length > 0;
  const fanOut = fansOut(op, severalEndpoints);
  // The JSON result form: the operation's declared result schema (or, fanned out, one per endpoint).
  const result = hoistDefs(`${op.name}.result`, resultSchemaOf(op), schemas);
  const ok: Record<string, unknown> = { 'application/json': { schema: fanOut ? { anyOf: [result, fanOutSchema(result)] } : result } };
  const streamTypes = streamFormTypes(op);
  for (const t of streamTypes) {
    ok[t] =
      t === 'application/x-ndjson'
        ? { schema: { type: 'string', contentMediaType: t, description: 'One JSON object per line: {"text": "<line>"}, with "partial": true on the pieces of a line longer than 64 KiB' } }
        : { schema: { type: 'string', contentMediaType: t } };
  }
  const without = op.resultRequires?.length ? ` The stream form does without ${op.resultRequires.map((p) => `\`${p}\``).join(', ')}, which the JSON result form requires.` : '';
  const streamNote = streamTypes.length
    ? `\n\nStream form: send \`Accept: ${streamTypes.join('` or `')}\` to receive the data itself as the response body instead of the JSON result.${without}`
    : '';
  return {
    post: {
      operationId: op.name,
      summary: op.title,
      description: `${op.description}${streamNote}\n\nSafety: ${op.safety}${op.idempotent ? ' (idempotent)' : ''}.${op.minApiVersion ? ` Needs Engine API ${op.minApiVersion}+.` : ''}`,
      tags: [op.category],
      parameters: [{ $ref: `#/components/parameters/${fanOut ? 'endpointSelection' : 'endpoint'}` }],
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
        '406': errorRef('NotAcceptable'),
        '409': errorRef('Conflict'),
        '413': errorRef('PayloadTooLarge'),
        '415': errorRef('UnsupportedMediaType'),
        '429': errorRef('TooManyRequests'),
        '500': errorRef('InternalError'),
        '502': errorRef('BadGateway'),
        '503': errorRef('ShuttingDown'),
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
        code: { type: 'string', description: 'Stable error code (INVALID_PARAMS, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, RATE_LIMITED, INTERNAL_ERROR, …)' },
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

/** The body of the 503 the HTTP server itself sends to a request arriving while it drains. */
const shuttingDownSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer', const: 503 } },
};

function errorResponse(description: string, extra: Record<string, unknown> = {}) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }, ...extra };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^$()|[\]{}\\]/g, '\\$&');
}

/** What a GET route of the service answers besides 200 (every route: Host/Origin refusal, internal fault, drain). */
const COMMON_GET = { '403': errorRef('Forbidden'), '500': errorRef('InternalError'), '503': errorRef('ShuttingDown') };
/** /v1 routes also authenticate and rate-limit. */
const V1_GET = { '401': errorRef('Unauthorized'), ...COMMON_GET, '429': errorRef('TooManyRequests') };

export interface OpenApiOptions {
  /** Names of the configured Engine endpoints: the `endpoint` query takes only these. */
  endpoints?: readonly string[];
}

const cache = new Map<string, Record<string, unknown>>();

export function buildOpenApi(options: OpenApiOptions = {}): Record<string, unknown> {
  const key = JSON.stringify(options.endpoints ?? null);
  const hit = cache.get(key);
  if (hit) return hit;
  const several = (options.endpoints?.length ?? 0) > 1;
  const schemas: Record<string, unknown> = { Error: errorSchema, ShuttingDown: shuttingDownSchema, ...(several ? { EndpointFailure: endpointFailureSchema } : {}) };
  const paths: Record<string, unknown> = {};
  const ops = listOperations();
  for (const op of ops) paths[`${OPERATION_PATH_PREFIX}${op.name}`] = operationPath(op, schemas, options.endpoints ?? []);
  const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
  const meta = (operationId: string, summary: string, description: string, okDescription: string) => ({
    get: { operationId, summary, description, tags: ['service'], responses: { '200': json(okDescription), ...V1_GET } },
  });
  paths['/v1/operations'] = meta('service_list_operations', 'List operations', 'Every operation with its category, safety class and path; `allowed` says whether the server policy and your key let you run it.', '{operations: [...]}');
  paths['/v1/manifest'] = meta('service_manifest', 'Manifest', 'Configuration fields and every operation with its parameter schema.', 'The manifest');
  paths['/v1/health'] = {
    get: {
      operationId: 'service_health',
      summary: 'Health',
      description: 'Reachability and negotiated API version of each Engine endpoint. Changes nothing on the Engine. 503 when an endpoint is unreachable.',
      tags: ['service'],
      parameters: [{ $ref: '#/components/parameters/endpoint' }],
      responses: {
        '200': json('Every endpoint asked is reachable: {ok, endpoints: {name: health}}'),
        '400': errorRef('BadRequest'),
        ...V1_GET,
        '503': {
          description: 'An endpoint is unreachable (the same body as 200, with ok: false), or the service is shutting down',
          content: { 'application/json': { schema: { anyOf: [{ type: 'object', required: ['ok', 'endpoints'] }, { $ref: '#/components/schemas/ShuttingDown' }] } } },
        },
      },
    },
  };
  // Not an operation: the service's own counters (http/metrics.ts), for Prometheus.
  paths['/metrics'] = {
    get: {
      operationId: 'service_metrics',
      summary: 'Prometheus metrics',
      description: "The service's metrics in the Prometheus text format: calls, durations, Engine requests and retries, rate-limit waits and refusals. Needs a key with the metrics (or admin) scope; `--metrics-listen` serves them without a key on a loopback address.",
      tags: ['service'],
      responses: { '200': { description: 'The Prometheus text exposition (version 0.0.4)', content: { 'text/plain': { schema: { type: 'string' } } } }, ...V1_GET },
    },
  };
  // The document and the docs page need no key.
  paths['/openapi.json'] = {
    get: { operationId: 'service_openapi', summary: 'OpenAPI document', description: 'This document.', tags: ['service'], security: [], responses: { '200': json('The OpenAPI 3.1 document'), ...COMMON_GET } },
  };
  paths['/docs'] = {
    get: {
      operationId: 'service_docs',
      summary: 'Documentation page',
      description: 'A page listing every operation with a form to run it.',
      tags: ['service'],
      security: [],
      responses: { '200': { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } }, ...COMMON_GET },
    },
  };
  paths['/'] = {
    get: {
      operationId: 'service_root',
      summary: 'Redirect to the documentation page',
      tags: ['service'],
      security: [],
      responses: { '302': { description: 'To /docs', headers: { Location: { schema: { type: 'string' } } } }, ...COMMON_GET },
    },
  };
  const endpointSchema: Record<string, unknown> = { type: 'string' };
  if (options.endpoints?.length) endpointSchema.enum = [...options.endpoints];
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'Docker Connector',
      version: PACKAGE_VERSION,
      description:
        'Drive the Docker Engine API through named, validated operations. `POST /v1/operations/{name}` with the parameters as a JSON body runs one; errors come back as `{"error": {code, status, message, operation}}`. ' +
        'A method a route does not take answers 405 (components.responses.MethodNotAllowed) with an `Allow` header naming the ones it does.',
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
          schema: endpointSchema,
        },
        ...(several
          ? {
              endpointSelection: {
                name: 'endpoint',
                in: 'query',
                required: false,
                description:
                  'Name of the Engine endpoint to use (default: the first configured); or several, `a,b`, or `all`: the call then runs on each and answers `{results: {name: result}, errors: {name: {code, message}}}` (one endpoint failing is an entry in `errors`)',
                schema: { type: 'string', pattern: `^(all|(${options.endpoints!.map(escapeRegExp).join('|')})(,(${options.endpoints!.map(escapeRegExp).join('|')}))*)$` },
              },
            }
          : {}),
      },
      schemas,
      responses: {
        BadRequest: errorResponse('Invalid parameters, unknown endpoint, or a body that is not a JSON object (`null`, an array, a number, a string) (INVALID_PARAMS)'),
        Unauthorized: errorResponse('Missing or unknown API key (UNAUTHORIZED)', {
          headers: { 'WWW-Authenticate': { description: 'Bearer realm', schema: { type: 'string' } } },
        }),
        Forbidden: errorResponse(
          'Refused by the server policy (read_only, allow, deny, local files, guardrails, evidence_before_destroy) or the key\'s scopes, or a request whose Host or Origin the service does not accept (FORBIDDEN); details.rule names the rule',
        ),
        NotFound: errorResponse('No such operation (UNKNOWN_OPERATION) or no such object on the Engine (NOT_FOUND)'),
        MethodNotAllowed: errorResponse('The route does not take this method (METHOD_NOT_ALLOWED)', {
          headers: { Allow: { description: 'The methods the route takes', schema: { type: 'string' } } },
        }),
        NotAcceptable: errorResponse('The Accept header names a raw-stream media type the operation does not produce (the 200 response lists the ones it does)'),
        Conflict: errorResponse('The Engine reports a conflict (CONFLICT), e.g. a name in use'),
        PayloadTooLarge: errorResponse('The request body is larger than the service\'s body_limit (INVALID_PARAMS)'),
        UnsupportedMediaType: errorResponse('The request body is not sent as Content-Type: application/json (INVALID_PARAMS)'),
        TooManyRequests: errorResponse('Rate limit of the key (or of the Engine connection) reached, or too many failed authentications from this client (RATE_LIMITED)', {
          headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
        }),
        InternalError: errorResponse('A fault inside the service or the connector, not caused by the request (INTERNAL_ERROR); it is logged'),
        ShuttingDown: {
          description: 'The service is shutting down and takes no new calls',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ShuttingDown' } } },
        },
        BadGateway: errorResponse(
          'The Engine failed or could not be reached (ENGINE_ERROR, UNAVAILABLE, CONNECTION_FAILED, TLS_ERROR, STREAM_ERROR, API_VERSION_UNSUPPORTED), or it refused the connector itself (UNAUTHORIZED / FORBIDDEN with engine_status)',
        ),
        GatewayTimeout: errorResponse('The call took too long (TIMEOUT); for writes the outcome may be unknown'),
      },
    },
  };
  cache.set(key, doc);
  return doc;
}
