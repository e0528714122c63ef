import type { EndpointStatus } from '../connector.js';
import { ConnectorError } from '../errors.js';
import { isSeveral } from '../fleet.js';
import type { OperationDefinition } from '../operations/define.js';

/**
 * The CLI's side of named endpoints (issue 17): what `--endpoint` asks for,
 * when a call may fan out, the exit code of a fan-out, and the
 * `docker-connector endpoints` table.
 */

/** What `--endpoint` asks for: nothing (the default endpoint), one endpoint, or several (a fan-out). */
export type EndpointChoice = { kind: 'default' } | { kind: 'one'; name: string } | { kind: 'several'; selection: string };

/**
 * Reads `--endpoint`. The answer's shape follows what was written, not how
 * many names it comes to: "a,b", "a," and "all" are fan-outs
 * (`{results, errors}`, also with a fleet of one), a bare name is one call
 * with that endpoint's own result. Names are checked by the connector.
 */
export function parseEndpointOption(value: string | undefined): EndpointChoice {
  if (value === undefined) return { kind: 'default' };
  const trimmed = value.trim();
  if (trimmed.split(',').every((p) => p.trim() === '')) {
    throw new ConnectorError('INVALID_PARAMS', 'Invalid --endpoint: expected an endpoint name, names separated by "," or "all" ("docker-connector endpoints" lists them)', { details: { parameters: ['endpoint'] } });
  }
  if (isSeveral(trimmed)) return { kind: 'several', selection: trimmed };
  return { kind: 'one', name: trimmed };
}

/** A hunt given both `--endpoint` and its own `endpoints` parameter: one of them would be ignored. */
export function checkHuntSelection(op: OperationDefinition, params: Record<string, unknown>, choice: EndpointChoice): void {
  if (choice.kind !== 'default' && params.endpoints !== undefined) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameters for ${op.name}: give the endpoints to search either with --endpoint or with the endpoints parameter, not both`, {
      operation: op.name,
      details: { parameters: ['endpoint', 'endpoints'] },
    });
  }
}

/** A fan-out or hunt answer with at least one failed endpoint (the CLI then exits 1, the JSON still carrying every result). */
export function someEndpointFailed(answer: unknown): boolean {
  const errors = (answer as { errors?: unknown } | null)?.errors;
  return errors !== null && typeof errors === 'object' && Object.keys(errors).length > 0;
}

/** A `health` fan-out in which an endpoint failed or reported itself unreachable. */
export function someEndpointUnhealthy(answer: { results: Record<string, { reachable: boolean }>; errors: Record<string, unknown> }): boolean {
  return someEndpointFailed(answer) || Object.values(answer.results).some((h) => !h.reachable);
}

/** The `docker-connector endpoints` table: `*` marks the default; why an endpoint is unreachable is said below it. */
export function endpointsTable(rows: readonly EndpointStatus[]): string {
  const name = (r: EndpointStatus) => `${r.name}${r.default ? ' *' : ''}`;
  const cols = [
    { head: 'NAME', cell: name },
    { head: 'REACHABLE', cell: (r: EndpointStatus) => (r.reachable ? 'yes' : 'no') },
    { head: 'ENGINE', cell: (r: EndpointStatus) => r.engine_version ?? '-' },
    { head: 'API', cell: (r: EndpointStatus) => r.api_version ?? '-' },
    { head: 'ADDRESS', cell: (r: EndpointStatus) => r.endpoint ?? '-' },
  ];
  const widths = cols.map((c) => Math.max(c.head.length, ...rows.map((r) => c.cell(r).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const lines = [line(cols.map((c) => c.head)), ...rows.map((r) => line(cols.map((c) => c.cell(r))))];
  const down = rows.filter((r) => !r.reachable);
  if (down.length > 0) lines.push('', ...down.map((r) => `${r.name}: ${r.error?.message ?? 'unreachable'}`));
  const def = rows.find((r) => r.default);
  // Without named endpoints the only row is "default": nothing to choose between.
  if (def && rows.length > 1) lines.push('', `default: ${def.name} (calls without --endpoint go there)`);
  return `${lines.join('\n')}\n`;
}

/** What `describe` says about --endpoint for one operation. */
export function endpointNote(op: Pick<OperationDefinition, 'name' | 'safety' | 'acrossEndpoints' | 'localPaths'>): string {
  let text: string;
  if (op.acrossEndpoints) {
    text = `With named endpoints (the config file's endpoints map): searches every endpoint unless --endpoint <name>, --endpoint a,b or the endpoints parameter narrows it; exit 1 when an endpoint could not be searched (it is listed in errors).`;
  } else if (op.safety !== 'read') {
    text = `With named endpoints (the config file's endpoints map): --endpoint <name> chooses the one it runs on (default: default_endpoint); as a ${op.safety} operation it never runs on several at once.`;
  } else {
    text =
      `With named endpoints (the config file's endpoints map): --endpoint <name> chooses the one it runs on (default: default_endpoint); ` +
      `--endpoint a,b or --endpoint all runs it on several and prints {results: {<endpoint>: <result>}, errors: {<endpoint>: {code, message}}}, exit 1 when any endpoint failed` +
      ((op.localPaths ?? []).length > 0 ? ` (not with ${op.localPaths!.join(', ')}: a file on this host is one endpoint's)` : '') +
      '.';
  }
  return text;
}
