import { resultSchemaOf } from '../manifest.js';
import type { OperationDefinition } from '../operations/index.js';

/**
 * A tool's `outputSchema` and the shape of its `structuredContent`, both
 * from the operation's result schema. MCP wants an object at the root: a
 * result that is always an object is sent as it is; any other result (a
 * list, a scalar, or one that may be either) is sent as `{"result": …}` and
 * its schema wrapped the same way. `$defs` stay at the root, so the
 * schema's `#/$defs/…` references keep resolving after the wrap.
 */

type Schema = Record<string, unknown>;

export interface ToolOutput {
  /** The tool's outputSchema: an object schema at the root, as MCP requires. */
  schema: Schema & { type: 'object' };
  /** Results are sent as `{"result": value}`. */
  wrapped: boolean;
}

const cache = new Map<string, ToolOutput | undefined>();

/** The output form of an operation's tool; undefined for an operation that declares no result schema. */
export function toolOutput(op: OperationDefinition): ToolOutput | undefined {
  if (cache.has(op.name)) return cache.get(op.name);
  let out: ToolOutput | undefined;
  if (op.resultSchema) {
    const schema = resultSchemaOf(op);
    if (objectOnly(schema, schema, new Set())) {
      out = { schema: { ...schema, type: 'object' }, wrapped: false };
    } else {
      const { $defs, ...rest } = schema;
      const wrapper: Schema = { type: 'object', properties: { result: rest }, required: ['result'], additionalProperties: false };
      if ($defs) wrapper.$defs = $defs;
      out = { schema: wrapper as ToolOutput['schema'], wrapped: true };
    }
  }
  cache.set(op.name, out);
  return out;
}

/** What a fan-out reports for an endpoint that failed. */
const ENDPOINT_FAILURE: Schema = {
  type: 'object',
  properties: {
    code: { type: 'string', description: 'Stable error code (UNAVAILABLE, CONNECTION_FAILED, TIMEOUT, …)' },
    message: { type: 'string', description: 'What went wrong, naming the endpoint' },
  },
  required: ['code', 'message'],
  additionalProperties: false,
};

const fanOutCache = new Map<string, ToolOutput | undefined>();

/**
 * The output form of a read tool that may fan out (several named
 * endpoints): either its usual structured content (one endpoint named) or
 * `{results: {name: result}, errors: {name: {code, message}}}`, each result
 * as the operation returns it (never wrapped: the fan-out is the object
 * root). `$defs` move to the new root, so both branches' references resolve.
 */
export function fanOutToolOutput(op: OperationDefinition): ToolOutput | undefined {
  if (fanOutCache.has(op.name)) return fanOutCache.get(op.name);
  const usual = toolOutput(op);
  let out: ToolOutput | undefined;
  if (usual) {
    const { $defs, ...single } = usual.schema;
    const { $defs: _same, ...result } = resultSchemaOf(op);
    const fanOut: Schema = {
      type: 'object',
      description: 'Asked of several endpoints: each answering endpoint\'s result by name, and each failed endpoint\'s error',
      properties: {
        results: { type: 'object', additionalProperties: result },
        errors: { type: 'object', additionalProperties: ENDPOINT_FAILURE },
      },
      required: ['results', 'errors'],
      additionalProperties: false,
    };
    const schema: Schema = { type: 'object', anyOf: [single, fanOut] };
    if ($defs) schema.$defs = $defs;
    out = { schema: schema as ToolOutput['schema'], wrapped: usual.wrapped };
  }
  fanOutCache.set(op.name, out);
  return out;
}

/**
 * Which parts of a fan-out answer the output cap may cut: within one
 * endpoint's result what `cutPolicy` lets it cut there; never an error.
 */
export function fanOutCutPolicy(op: OperationDefinition): (path: readonly (string | number)[], kind: 'string' | 'list') => boolean {
  const inner = cutPolicy(op);
  return (path, kind) => path[0] === 'results' && path.length >= 2 && inner !== undefined && inner(path.slice(2), kind);
}

/** The structured content for a result: wrapped as the tool's output form says (by value when the operation has no schema). */
export function structuredFor(op: OperationDefinition | undefined, value: unknown): Record<string, unknown> {
  const output = op ? toolOutput(op) : undefined;
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  const wrap = output ? output.wrapped : !isObject;
  return wrap ? { result: value ?? null } : (value as Record<string, unknown>);
}

function resolve(node: Schema, root: Schema): Schema | undefined {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  if (ref === '#') return root;
  if (!ref.startsWith('#/$defs/')) return undefined;
  return ((root.$defs ?? {}) as Record<string, Schema>)[ref.slice('#/$defs/'.length)];
}

/** True when every value the schema admits is a JSON object (not an array, null or a scalar). */
function objectOnly(node: unknown, root: Schema, seen: Set<unknown>): boolean {
  if (node === null || typeof node !== 'object' || seen.has(node)) return false;
  seen.add(node);
  const n = node as Schema;
  if (n.type === 'object') return true;
  if (typeof n.$ref === 'string') {
    const target = resolve(n, root);
    if (target && objectOnly(target, root, seen)) return true;
  }
  for (const k of ['anyOf', 'oneOf'] as const) {
    const branches = n[k];
    if (Array.isArray(branches) && branches.length > 0 && branches.every((b) => objectOnly(b, root, new Set(seen)))) return true;
  }
  return Array.isArray(n.allOf) && n.allOf.some((b) => objectOnly(b, root, new Set(seen)));
}

/** Keywords that a cut string (shorter, with a marker) or a shortened list could break. */
const STRING_RULES = ['pattern', 'format', 'enum', 'const', 'maxLength', 'minLength', 'contentEncoding', 'contentMediaType'];
const LIST_RULES = ['minItems', 'prefixItems', 'contains', 'enum', 'const'];
/** Keywords whose effect on a part of the value this walk does not follow: nothing under them is cut. */
const OPAQUE = ['not', 'if', 'then', 'else', 'dependentSchemas', 'unevaluatedProperties', 'unevaluatedItems'];

/**
 * Which parts of a result the output cap may cut without breaking the
 * schema: a string only where no schema that applies to it sets a rule a
 * cut string breaks (a pattern, a format, an enum, a length), a list only
 * where none sets a minimum or a tuple shape. Every subschema that may apply
 * counts (all branches of anyOf/oneOf), so the answer errs on keeping.
 */
export function cutPolicy(op: OperationDefinition): ((path: readonly (string | number)[], kind: 'string' | 'list') => boolean) | undefined {
  const output = toolOutput(op);
  if (!output) return undefined;
  const root = output.schema;
  return (at, kind) => {
    // `at` is a path in the result; in the structured content a wrapped result sits under "result".
    const path = output.wrapped ? ['result', ...at] : at;
    let nodes = expand([root], root);
    for (const step of path) {
      if (nodes === undefined) return false;
      nodes = expand(nodes.flatMap((n) => child(n, step)), root);
    }
    if (nodes === undefined) return false;
    const rules = kind === 'string' ? STRING_RULES : LIST_RULES;
    return nodes.every((n) => !rules.some((r) => r in n));
  };
}

/** The schemas that apply at one place: through $ref, allOf, anyOf and oneOf. Undefined when the walk cannot tell. */
function expand(nodes: unknown[], root: Schema): Schema[] | undefined {
  const out: Schema[] = [];
  const queue = [...nodes];
  let guard = 0;
  while (queue.length > 0) {
    if (++guard > 10_000) return undefined;
    const n = queue.shift();
    if (n === true || n === undefined) continue;
    if (n === false || n === null || typeof n !== 'object') return undefined;
    const node = n as Schema;
    if (OPAQUE.some((k) => k in node)) return undefined;
    if (typeof node.$ref === 'string') {
      const target = resolve(node, root);
      if (!target) return undefined;
      queue.push(target);
    }
    for (const k of ['allOf', 'anyOf', 'oneOf']) if (Array.isArray(node[k])) queue.push(...(node[k] as unknown[]));
    out.push(node);
  }
  return out;
}

/** The subschemas that apply to a property or an item of a value `node` describes. */
function child(node: Schema, step: string | number): unknown[] {
  const out: unknown[] = [];
  if (typeof step === 'number') {
    const prefix = node.prefixItems as unknown[] | undefined;
    if (prefix && step < prefix.length) out.push(prefix[step]);
    else if (node.items !== undefined) out.push(node.items);
    return out;
  }
  const props = node.properties as Record<string, unknown> | undefined;
  if (props && Object.hasOwn(props, step)) {
    out.push(props[step]);
    return out;
  }
  const patterns = node.patternProperties as Record<string, unknown> | undefined;
  let matched = false;
  for (const [re, s] of Object.entries(patterns ?? {})) {
    if (new RegExp(re, 'u').test(step)) {
      out.push(s);
      matched = true;
    }
  }
  if (!matched && node.additionalProperties !== undefined) out.push(node.additionalProperties);
  return out;
}
