import * as z from 'zod';
import type { OperationDefinition } from './define.js';

/** An operation's parameters as JSON Schema (what a caller may send), for the manifest, OpenAPI, MCP and the CLI's `-p`. */
export function parameterSchema(op: OperationDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(op.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return schema;
}
