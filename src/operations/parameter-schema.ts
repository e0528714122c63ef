import * as z from 'zod';
import type { OperationDefinition } from './define.js';

/**
 * The `format` values of JSON Schema 2020-12 that stock validators (Ajv with
 * ajv-formats) know. Zod also emits formats of its own (`starts_with`,
 * `ends_with`, `includes`, `cidrv4`, …), which such validators refuse to compile.
 */
const STANDARD_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'uri-template',
  'uuid',
  'json-pointer',
  'relative-json-pointer',
  'regex',
]);

/** Keywords that apply to one JSON type, for splitting `type: [a, b]` into one branch per type. */
const KEYWORDS_OF: Record<string, readonly string[]> = {
  string: ['minLength', 'maxLength', 'pattern', 'format', 'contentEncoding', 'contentMediaType'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  array: ['items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems', 'contains'],
  object: ['properties', 'required', 'additionalProperties', 'propertyNames', 'minProperties', 'maxProperties', 'patternProperties'],
};

/**
 * Rewrites zod's output into plain JSON Schema 2020-12 that a validator in
 * strict mode compiles:
 * - a zod-only `format` is dropped where zod also emitted the `pattern` that
 *   says the same thing (`startsWith('/')` → `pattern: "^\/.*"`); one without
 *   a pattern is a declaration to fix, so it throws rather than publish a
 *   schema looser than the validation;
 * - `type: [a, b]` becomes `anyOf` with one branch per type (Ajv's strict
 *   mode refuses union types).
 */
export function standardize(node: unknown, where = '#'): unknown {
  if (Array.isArray(node)) return node.map((v, i) => standardize(v, `${where}/${i}`));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    // `properties` and `$defs` hold names, not keywords: recurse into their values only.
    if ((k === 'properties' || k === '$defs' || k === 'patternProperties') && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([name, s]) => [name, standardize(s, `${where}/${k}/${name}`)]));
    } else if (k === 'enum' || k === 'const' || k === 'default' || k === 'examples' || k === 'required') {
      out[k] = v;
    } else {
      out[k] = standardize(v, `${where}/${k}`);
    }
  }
  if (typeof out.format === 'string' && !STANDARD_FORMATS.has(out.format)) {
    const hasPattern = typeof out.pattern === 'string' || (Array.isArray(out.allOf) && out.allOf.some((s) => typeof (s as { pattern?: unknown }).pattern === 'string'));
    if (!hasPattern) throw new Error(`Parameter schema at ${where}: format "${out.format}" is not standard JSON Schema and comes with no pattern; declare the rule with .regex()`);
    delete out.format;
  }
  if (Array.isArray(out.type)) {
    const types = out.type as string[];
    const branchKeys = new Set(types.flatMap((t) => KEYWORDS_OF[t] ?? []));
    const common = Object.fromEntries(Object.entries(out).filter(([k]) => k !== 'type' && !branchKeys.has(k)));
    const anyOf = types.map((t) => ({ type: t, ...Object.fromEntries((KEYWORDS_OF[t] ?? []).filter((k) => k in out).map((k) => [k, out[k]])) }));
    // A node that already has an anyOf keeps it: both must hold.
    if (Array.isArray(common.anyOf)) {
      const { anyOf: own, ...rest } = common;
      return { ...rest, allOf: [{ anyOf: own }, { anyOf }] };
    }
    return { ...common, anyOf };
  }
  return out;
}

/**
 * An operation's parameters as JSON Schema (what a caller may send), for the
 * manifest, OpenAPI, MCP and the CLI's `-p`. Parameters the operation lists
 * in `resultRequires` are required here: the result form needs them and only
 * the raw-stream form (library `executeStream`, HTTP `Accept`) does without.
 */
export function parameterSchema(op: OperationDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(op.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  const extra = op.resultRequires ?? [];
  if (extra.length > 0) {
    const required = new Set([...((schema.required as string[] | undefined) ?? []), ...extra]);
    schema.required = [...required];
  }
  return standardize(schema) as Record<string, unknown>;
}

/**
 * A hunt's parameters as a surface serving these named endpoints publishes
 * them (OpenAPI, MCP tools): its `endpoints` takes one of the names or
 * "all", or a list of them, so a call valid against the published schema
 * never names an endpoint that is not configured. Other operations, and a
 * hunt without known names, are returned as they are.
 */
export function parameterSchemaFor(op: OperationDefinition, schema: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
  const own = props?.endpoints;
  if (!op.acrossEndpoints || names.length === 0 || !own) return schema;
  const oneOrAll = { type: 'string', enum: [...names, 'all'] };
  const endpoints = {
    anyOf: [oneOrAll, { type: 'array', items: oneOrAll, minItems: 1 }],
    ...(own.description ? { description: own.description } : {}),
    ...('default' in own ? { default: own.default } : {}),
  };
  return { ...schema, properties: { ...props, endpoints } };
}

/**
 * An operation's result as JSON Schema 2020-12, for the manifest's
 * `result_schema`, OpenAPI's 200 response and MCP's `outputSchema`. Read in
 * zod's input mode so that a plain `z.object` (an Engine object) stays open,
 * as the declaration means, while `z.strictObject` stays closed.
 */
export function resultSchema(op: OperationDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(op.resultSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return standardize(schema, `${op.name}#result`) as Record<string, unknown>;
}

/**
 * Validated parameters as one string, key order aside (defaults are filled in
 * by then): how a real call is matched to its dry run (plans, MCP confirmations).
 */
export function canonicalParams(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalParams).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalParams(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
