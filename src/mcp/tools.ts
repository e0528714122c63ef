import { ConnectorError } from '../errors.js';
import { ALL_ENDPOINTS } from '../fleet.js';
import { parameterSchema, parameterSchemaFor } from '../manifest.js';
import { listOperations, type OperationDefinition, type Safety } from '../operations/index.js';
import { scopesAllow, type Policy, type Principal } from '../access/policy.js';
import { fanOutToolOutput, toolOutput } from './output-schema.js';

/**
 * MCP tools derived from the catalogue of operations: one tool per operation,
 * nothing per operation. Which tools a session sees is the intersection of
 * the server's safety level (flags), the shared policy (read_only, allow,
 * deny) and, over HTTP, the caller's API-key scopes.
 */

export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; [key: string]: unknown };
  /** The result's schema; a result that is not always an object comes as {"result": …}. */
  outputSchema?: { type: 'object'; [key: string]: unknown };
  annotations: {
    title: string;
    readOnlyHint: boolean;
    destructiveHint: boolean;
    idempotentHint: boolean;
    openWorldHint: boolean;
  };
}

/** The highest safety class the server runs, from its flags (--allow-destructive implies write). */
export function safetyLevel(flags: { allowWrite?: boolean; allowDestructive?: boolean }): Safety {
  return flags.allowDestructive ? 'destructive' : flags.allowWrite ? 'write' : 'read';
}

const RANK: Record<Safety, number> = { read: 0, write: 1, destructive: 2 };

export function levelAllows(level: Safety, safety: Safety): boolean {
  return RANK[safety] <= RANK[level];
}

const schemaCache = new Map<string, McpTool['inputSchema']>();

function inputSchema(op: OperationDefinition): McpTool['inputSchema'] {
  let schema = schemaCache.get(op.name);
  if (!schema) {
    // MCP requires an object schema; every operation's parameters are a (strict) object.
    schema = { ...parameterSchema(op), type: 'object' };
    schemaCache.set(op.name, schema);
  }
  return schema;
}

/** Whether a tool of this operation fans out when given several endpoints: read operations that are not hunts. */
export function fansOut(op: OperationDefinition): boolean {
  return op.safety === 'read' && !op.acrossEndpoints;
}

/**
 * The input schema with the endpoint choice, when the connector has several
 * named endpoints. Write and destructive tools take one `endpoint` (an enum
 * of the names); read tools also take "all" or a list of names (a fan-out);
 * a hunt keeps its own `endpoints` parameter, whose names become the enum.
 */
function fleetInputSchema(op: OperationDefinition, names: readonly string[]): McpTool['inputSchema'] {
  const base = inputSchema(op);
  const props = (base.properties ?? {}) as Record<string, Record<string, unknown>>;
  const one = { type: 'string', enum: [...names] };
  const oneOrAll = { type: 'string', enum: [...names, ALL_ENDPOINTS] };
  if (op.acrossEndpoints) return parameterSchemaFor(op, base, names) as McpTool['inputSchema'];
  const where = `the configured endpoints are ${names.join(', ')}; default: the connector's default endpoint`;
  const endpoint = fansOut(op)
    ? {
        anyOf: [oneOrAll, { type: 'array', items: one, minItems: 1, uniqueItems: true }],
        description: `Endpoint to run on (${where}). "all" or a list of names runs on each of them and answers {results: {name: result}, errors: {name: {code, message}}}`,
      }
    : { ...one, description: `Endpoint to run on (${where}). A ${op.safety} operation runs on one endpoint at a time` };
  return { ...base, properties: { ...props, endpoint } };
}

const fleetSchemaCache = new Map<string, McpTool['inputSchema']>();

/**
 * The tool of an operation. `endpoints`: the connector's endpoint names;
 * with several, the tool takes the endpoint choice (and a read tool's
 * outputSchema admits a fan-out's answer too); with one, nothing changes.
 */
export function toolFor(op: OperationDefinition, endpoints: readonly string[] = []): McpTool {
  const notes: string[] = [];
  if (op.safety === 'destructive') notes.push('Destructive: takes dry_run to show what would be removed without removing it.');
  if (op.minApiVersion) notes.push(`Needs Engine API ${op.minApiVersion} or newer.`);
  notes.push(`Returns: ${op.result}`);
  const fleet = endpoints.length > 1;
  const output = fleet && fansOut(op) ? fanOutToolOutput(op) : toolOutput(op);
  let input = inputSchema(op);
  if (fleet) {
    const key = `${op.name}\0${endpoints.join('\0')}`;
    input = fleetSchemaCache.get(key) ?? fleetInputSchema(op, endpoints);
    fleetSchemaCache.set(key, input);
  }
  return {
    name: op.name,
    title: op.title,
    description: `${op.description}\n\n${notes.join('\n')}`,
    inputSchema: input,
    ...(output ? { outputSchema: output.schema } : {}),
    annotations: {
      title: op.title,
      readOnlyHint: op.safety === 'read',
      // MCP assumes destructive unless told otherwise: say false for plain writes.
      destructiveHint: op.safety === 'destructive',
      idempotentHint: op.idempotent,
      // Every operation talks to one configured Engine, not to an open set of outside systems.
      openWorldHint: false,
    },
  };
}

export interface Gate {
  level: Safety;
  policy: Policy;
}

const FLAG_FOR: Record<Exclude<Safety, 'read'>, string> = { write: '--allow-write', destructive: '--allow-destructive' };

/**
 * Why this server refuses the operation for this caller (FORBIDDEN naming
 * the rule), or undefined when it may run. Order: the server's safety
 * level, then the shared policy and the caller's scopes.
 */
export function refusal(gate: Gate, op: OperationDefinition, principal: Principal | undefined): ConnectorError | undefined {
  if (!levelAllows(gate.level, op.safety)) {
    const flag = FLAG_FOR[op.safety as Exclude<Safety, 'read'>];
    const runs = gate.level === 'read' ? 'only read operations' : 'read and write operations only';
    return new ConnectorError('FORBIDDEN', `Operation ${op.name} is a ${op.safety} operation; this MCP server runs ${runs} (start it with ${flag} to allow ${op.safety} operations)`, {
      operation: op.name,
      details: { rule: 'mcp_safety', needed_flag: flag },
    });
  }
  try {
    gate.policy.authorize(op, principal);
  } catch (err) {
    return err as ConnectorError;
  }
  return undefined;
}

/** The tools a caller may see and call, in catalogue order; `endpoints` as for toolFor. */
export function listTools(gate: Gate, principal: Principal | undefined, endpoints: readonly string[] = []): McpTool[] {
  return listOperations()
    .filter((op) => levelAllows(gate.level, op.safety) && gate.policy.permits(op) && (!principal || scopesAllow(principal.scopes, op.safety)))
    .map((op) => toolFor(op, endpoints));
}
