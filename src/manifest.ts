import * as z from 'zod';
import { configSchema, SECRET_FIELDS } from './config/schema.js';
import { listOperations } from './operations/index.js';
import { parameterSchema, parameterSchemaFor, resultSchema } from './operations/parameter-schema.js';
import type { OperationDefinition } from './operations/define.js';
import { MAX_API_VERSION, MIN_API_VERSION } from './engine/version.js';
import { PACKAGE_VERSION } from './package-info.js';

export { PACKAGE_VERSION, parameterSchema, parameterSchemaFor };

const resultCache = new Map<string, Record<string, unknown>>();

/**
 * An operation's published result schema (JSON Schema 2020-12) for the
 * manifest, OpenAPI, MCP and `describe`; `{}` (any value) while an operation
 * declares none. Cached: every surface asks for it per operation.
 */
export function resultSchemaOf(op: OperationDefinition): Record<string, unknown> {
  let schema = resultCache.get(op.name);
  if (!schema) {
    schema = op.resultSchema ? resultSchema(op) : {};
    resultCache.set(op.name, schema);
  }
  return schema;
}

export interface ManifestField {
  name: string;
  type: string;
  default?: unknown;
  secret: boolean;
  description?: string;
  enum?: unknown[];
}

export interface ManifestOperation {
  name: string;
  category: string;
  title: string;
  description: string;
  safety: 'read' | 'write' | 'destructive';
  idempotent: boolean;
  dry_run: boolean;
  streaming: boolean;
  min_api_version?: string;
  /** Parameters naming files or folders on the connector's host. */
  local_paths: string[];
  parameters: Record<string, unknown>;
  /** One line saying what the result holds. */
  result: string;
  /** The result's shape (JSON Schema 2020-12): Engine objects are open (newer Engines add fields). */
  result_schema: Record<string, unknown>;
}

export interface Manifest {
  name: string;
  version: string;
  api_versions: { min: string; max: string };
  config: ManifestField[];
  operations: ManifestOperation[];
}

function configFields(): ManifestField[] {
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, Record<string, unknown>> };
  return Object.entries(json.properties).map(([name, prop]) => {
    const types = prop.type ?? (Array.isArray(prop.anyOf) ? (prop.anyOf as { type?: string }[]).map((a) => a.type ?? 'string').join('|') : 'string');
    const field: ManifestField = { name, type: String(types), secret: (SECRET_FIELDS as readonly string[]).includes(name) };
    if (prop.default !== undefined) field.default = prop.default;
    if (typeof prop.description === 'string') field.description = prop.description;
    if (Array.isArray(prop.enum)) field.enum = prop.enum;
    return field;
  });
}

let cached: Manifest | undefined;

/** One JSON document from which a platform can render forms for every operation. */
export function buildManifest(): Manifest {
  cached ??= {
    name: 'docker-connector',
    version: PACKAGE_VERSION,
    api_versions: { min: MIN_API_VERSION, max: MAX_API_VERSION },
    config: configFields(),
    operations: listOperations().map((op) => {
      const parameters = parameterSchema(op);
      const props = (parameters.properties ?? {}) as Record<string, unknown>;
      const entry: ManifestOperation = {
        name: op.name,
        category: op.category,
        title: op.title,
        description: op.description,
        safety: op.safety,
        idempotent: op.idempotent,
        dry_run: 'dry_run' in props,
        streaming: op.streaming ?? false,
        local_paths: [...(op.localPaths ?? [])],
        parameters,
        result: op.result,
        result_schema: resultSchemaOf(op),
      };
      if (op.minApiVersion) entry.min_api_version = op.minApiVersion;
      return entry;
    }),
  };
  return cached;
}
