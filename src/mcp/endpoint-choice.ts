import type { DockerConnector } from '../connector.js';
import { ConnectorError } from '../errors.js';
import { isSeveral } from '../fleet.js';
import type { OperationDefinition } from '../operations/index.js';
import { fansOut } from './tools.js';

/**
 * The `endpoint` argument of a tool call when the connector has several
 * named endpoints (issue 17): taken out of the arguments before the
 * operation validates them, and checked before anything runs. One name runs
 * there; "all", "a,b" or a list of names fans a read operation out. With one
 * endpoint there is no such argument: the operation's own validation refuses
 * it like any unknown parameter, as before fleets existed. Hunts choose their
 * endpoints with their own `endpoints` parameter.
 */

/** The key the confirmation ledger sees the endpoint under: not a parameter name any operation can have. */
export const LEDGER_ENDPOINT_KEY = '@endpoint';

export interface EndpointChoice {
  /** The arguments for the operation, without `endpoint`. */
  params: Record<string, unknown>;
  /** The one endpoint the call runs on (undefined: the connector's default). */
  endpoint?: string;
  /** Set for a fan-out: the selection, as the connector's executeAcross takes it. */
  across?: string | string[];
  /** What the audit line names: the endpoint, or the selection of a fan-out or hunt. */
  audit: string;
  /** The parameters the confirmation ledger keys on: a dry run on one endpoint confirms the call there only. */
  forLedger(valid: Record<string, unknown>): Record<string, unknown>;
}

const PARAM = 'endpoint';

function invalid(message: string, op: OperationDefinition): ConnectorError {
  return new ConnectorError('INVALID_PARAMS', message, { operation: op.name, details: { parameters: [PARAM] } });
}

function selectionText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return undefined;
}

export function chooseEndpoint(connector: DockerConnector, op: OperationDefinition, args: Record<string, unknown>): EndpointChoice {
  const names = connector.endpointNames;
  const fleet = names.length > 1;
  if (op.acrossEndpoints) {
    return { params: args, audit: fleet ? selectionText(args.endpoints) || 'all' : connector.defaultEndpoint, forLedger: (v) => v };
  }
  if (!fleet || !(PARAM in args)) {
    const chosen = connector.defaultEndpoint;
    return { params: args, audit: chosen, forLedger: (v) => (fleet ? { ...v, [LEDGER_ENDPOINT_KEY]: chosen } : v) };
  }
  const { [PARAM]: given, ...params } = args;
  const expected = fansOut(op) ? `an endpoint name (${names.join(', ')}), "all", or a list of names` : `one endpoint name (${names.join(', ')})`;
  const several = isSeveral(given);
  if (several) {
    if (!fansOut(op)) {
      throw invalid(`Operation ${op.name} is a ${op.safety} operation: it runs on one endpoint at a time; only read operations fan out over several endpoints (parameter ${PARAM}: expected ${expected})`, op);
    }
    if (Array.isArray(given) && !given.every((x) => typeof x === 'string')) throw invalid(`Invalid parameter ${PARAM}: expected ${expected}`, op);
    const across = given as string | string[];
    // Unknown names are refused here, before any endpoint is asked.
    connector.selectEndpoints(across);
    return { params, across, audit: selectionText(across)!, forLedger: (v) => v };
  }
  if (given === undefined) {
    const chosen = connector.defaultEndpoint;
    return { params, audit: chosen, forLedger: (v) => ({ ...v, [LEDGER_ENDPOINT_KEY]: chosen }) };
  }
  if (typeof given !== 'string' || given.trim() === '') throw invalid(`Invalid parameter ${PARAM}: expected ${expected}`, op);
  const endpoint = given.trim();
  connector.endpointConnector(endpoint);
  return { params, endpoint, audit: endpoint, forLedger: (v) => ({ ...v, [LEDGER_ENDPOINT_KEY]: endpoint }) };
}

/** What a refused call asked for (the audit line of a call refused before its endpoint was chosen); undefined without several endpoints. */
export function askedEndpoint(connector: DockerConnector, args: Record<string, unknown>): string | undefined {
  if (connector.endpointNames.length <= 1 || !(PARAM in args)) return undefined;
  const text = selectionText(args[PARAM]);
  // Only the shape a caller may send (a name, a selection): anything else is not written to the log.
  return text !== undefined && text.length <= 512 ? text : 'invalid';
}
