/**
 * Named endpoints (issue 17): the config file's `endpoints` map, one
 * connector per name (each with its own pool, negotiated version, timeout
 * and rate limiter), which one is the default, and fan-out over several.
 * A connector without `endpoints` is a fleet of one, named "default".
 */
import type { DockerConnector } from './connector.js';
import { ConnectorError, toConnectorError } from './errors.js';
import type { EndpointFailure, FanOut } from './operations/define.js';
import { mapBounded } from './operations/shared/map-bounded.js';

export const DEFAULT_ENDPOINT = 'default';
export const ALL_ENDPOINTS = 'all';
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A selection of endpoints as callers write it: one name, names, "a,b" or "all". */
export type EndpointSelection = string | readonly string[];

/**
 * Whether a selection asks for several endpoints (a list, "a,b" or "all"):
 * the call then fans out and answers {results, errors}, whatever the number
 * of names it comes to. A bare name is one call with that endpoint's result.
 */
export function isSeveral(selection: unknown): boolean {
  if (Array.isArray(selection)) return true;
  return typeof selection === 'string' && (selection.includes(',') || selection.trim() === ALL_ENDPOINTS);
}

/** Checks the `endpoints` section's shape and names; returns the entries in configuration order. */
export function endpointEntries(section: unknown): [string, Record<string, unknown>][] {
  if (section === null || typeof section !== 'object' || Array.isArray(section) || Object.keys(section).length === 0) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: endpoints must be an object of named connection settings, e.g. {"prod": {"host": "tcp://…"}}');
  }
  return Object.entries(section as Record<string, unknown>).map(([name, settings]) => {
    if (!ENDPOINT_NAME.test(name) || name === ALL_ENDPOINTS) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: endpoint name "${name}" must be letters, digits, "_", ".", "-" (at most 63), and not "all"`);
    }
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: endpoints.${name} must be an object of connection settings`);
    }
    return [name, settings as Record<string, unknown>];
  });
}

/** The error as one endpoint's: `endpoint` set, and the message says which endpoint it came from. */
export function endpointError(raw: unknown, endpoint: string, operation?: string): ConnectorError {
  const err = toConnectorError(raw, operation);
  // The caller's own mistakes (bad parameters, an unknown operation or endpoint name) are refused before any
  // Engine is asked: they are no endpoint's, and naming one would mislead.
  const callersOwn = err.status === undefined && (err.code === 'INVALID_PARAMS' || err.code === 'UNKNOWN_OPERATION');
  if (err.endpoint === undefined && !callersOwn) {
    err.endpoint = endpoint;
    err.message = `Endpoint "${endpoint}": ${err.message}`;
  }
  return err;
}

/** What a fan-out reports for a failed endpoint: its code and message, nothing more. */
function failure(err: ConnectorError): EndpointFailure {
  return { code: err.code, message: err.message };
}


export class Fleet {
  /** Every name, in configuration order. */
  readonly names: readonly string[];

  constructor(
    private readonly members: ReadonlyMap<string, DockerConnector>,
    /** The endpoint a call without one goes to. */
    readonly defaultName: string,
    private readonly concurrency: number,
    /** True when built from an `endpoints` section (errors then name the endpoint). */
    readonly named: boolean,
  ) {
    this.names = [...members.keys()];
  }

  get size(): number {
    return this.names.length;
  }

  /** The connector of one endpoint; an unknown name is INVALID_PARAMS naming it and the configured ones. */
  member(name: string, parameter = 'endpoint'): DockerConnector {
    const c = this.members.get(name);
    if (!c) throw this.unknown(name, parameter);
    return c;
  }

  /** The connectors by name (the HTTP service's endpoint map). */
  get map(): ReadonlyMap<string, DockerConnector> {
    return this.members;
  }

  /**
   * The names a selection stands for, checked: "all" (or nothing) is every
   * endpoint, "a,b" or ["a", "b"] those (duplicates once). An unknown name
   * is INVALID_PARAMS before anything runs.
   */
  select(selection: EndpointSelection | undefined, parameter = 'endpoint'): string[] {
    const parts = selection === undefined ? [ALL_ENDPOINTS] : typeof selection === 'string' ? selection.split(',') : [...selection];
    const names = parts.map((p) => p.trim()).filter((p) => p !== '');
    if (names.length === 0) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: expected an endpoint name, names separated by ",", or "all"; configured: ${this.names.join(', ')}`, { details: { parameters: [parameter] } });
    if (names.includes(ALL_ENDPOINTS)) return [...this.names];
    for (const n of names) if (!this.members.has(n)) throw this.unknown(n, parameter);
    return [...new Set(names)];
  }

  /**
   * Runs `work` on each selected endpoint, at most `fan_out_concurrency` at
   * once. An endpoint's failure is its entry in `errors`; the call as a
   * whole fails only for a bad selection (or when the caller cancels it).
   */
  async across<T>(selection: EndpointSelection | undefined, work: (member: DockerConnector, name: string) => Promise<T>, parameter = 'endpoint', signal?: AbortSignal): Promise<FanOut<T>> {
    const names = this.select(selection, parameter);
    const settled = await mapBounded(names, this.concurrency, async (name) => {
      try {
        return { name, value: await work(this.members.get(name)!, name) };
      } catch (err) {
        return { name, error: failure(endpointError(err, name)) };
      }
    });
    signal?.throwIfAborted();
    const out: FanOut<T> = { results: {}, errors: {} };
    for (const s of settled) {
      if ('error' in s) out.errors[s.name] = s.error!;
      else out.results[s.name] = s.value as T;
    }
    return out;
  }

  private unknown(name: string, parameter: string): ConnectorError {
    return new ConnectorError('INVALID_PARAMS', `Unknown endpoint ${JSON.stringify(name)} (${parameter}); configured: ${this.names.join(', ')}`, { details: { parameters: [parameter] } });
  }
}
