import { describe, expect, it } from 'vitest';
import { endpointEntries, endpointError, Fleet, isSeveral } from '../../src/fleet.js';
import type { DockerConnector } from '../../src/connector.js';
import { ConnectorError } from '../../src/errors.js';

/** A fleet over stand-in members: Fleet only hands them to the work it is given. */
function fleetOf(names: string[], concurrency = 8, defaultName = names[0]!): Fleet {
  return new Fleet(new Map(names.map((n) => [n, { name: n } as unknown as DockerConnector])), defaultName, concurrency, true);
}

describe('endpoint selection', () => {
  const fleet = fleetOf(['a', 'b', 'c']);
  it('reads one name, "a,b", a list and "all"; duplicates count once', () => {
    expect(fleet.select('b')).toEqual(['b']);
    expect(fleet.select('a, c')).toEqual(['a', 'c']);
    expect(fleet.select(['c', 'a', 'c'])).toEqual(['c', 'a']);
    expect(fleet.select('all')).toEqual(['a', 'b', 'c']);
    expect(fleet.select(undefined)).toEqual(['a', 'b', 'c']);
    // A hunt's `endpoints` parameter may list "all" among names: it counts as all.
    expect(fleet.select(['b', 'all'])).toEqual(['a', 'b', 'c']);
  });
  it('tells a selection of several (a list, "a,b", "all") from one name, as every surface reads it', () => {
    for (const several of [['a'], 'a,b', 'a,', 'all', ' all ']) expect(isSeveral(several)).toBe(true);
    for (const one of ['a', 'allx', '', undefined, 3]) expect(isSeveral(one)).toBe(false);
  });
  it('refuses an unknown name, naming it, the parameter and the configured names', () => {
    const err = (() => {
      try {
        fleet.select('a,zz', 'endpoints');
      } catch (e) {
        return e as ConnectorError;
      }
    })();
    expect(err?.code).toBe('INVALID_PARAMS');
    expect(err?.message).toBe('Unknown endpoint "zz" (endpoints); configured: a, b, c');
    expect(err?.details).toEqual({ parameters: ['endpoints'] });
  });
  it('refuses an empty selection', () => {
    expect(() => fleet.select(' , ')).toThrow(/expected an endpoint name/);
  });
});

describe('fan-out', () => {
  it('keeps at most fan_out_concurrency endpoints in flight and answers in configuration order', async () => {
    const names = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'];
    const fleet = fleetOf(names, 3);
    let inFlight = 0;
    let most = 0;
    const out = await fleet.across('all', async (_m, name) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later names finish first: the answer's order must still be the configuration's.
      await new Promise((r) => setTimeout(r, 40 - names.indexOf(name) * 5));
      inFlight--;
      return name.toUpperCase();
    });
    expect(most).toBe(3);
    expect(Object.keys(out.results)).toEqual(names);
    expect(out.results.e4).toBe('E4');
    expect(out.errors).toEqual({});
  });

  it('makes a failed endpoint an entry of errors (code and message naming it), never a failure of the call', async () => {
    const fleet = fleetOf(['up', 'down']);
    const out = await fleet.across(['up', 'down'], async (_m, name) => {
      if (name === 'down') throw new ConnectorError('CONNECTION_FAILED', 'Cannot connect to the Docker Engine at http://127.0.0.1:9: ECONNREFUSED', { retryable: true });
      return 1;
    });
    expect(out.results).toEqual({ up: 1 });
    expect(out.errors).toEqual({ down: { code: 'CONNECTION_FAILED', message: 'Endpoint "down": Cannot connect to the Docker Engine at http://127.0.0.1:9: ECONNREFUSED' } });
  });

  it('reports a programming fault as INTERNAL_ERROR, not as the Engine\'s', async () => {
    const out = await fleetOf(['x']).across('x', async () => {
      throw new TypeError('boom is not a function');
    });
    expect(out.errors.x?.code).toBe('INTERNAL_ERROR');
  });
});

describe('endpoint errors', () => {
  it('name their endpoint once, in the message and the field', () => {
    const err = endpointError(endpointError(new ConnectorError('NOT_FOUND', 'No such container: x'), 'prod'), 'other');
    expect(err.endpoint).toBe('prod');
    expect(err.message).toBe('Endpoint "prod": No such container: x');
    expect(err.toJSON()).toMatchObject({ code: 'NOT_FOUND', endpoint: 'prod' });
  });
});

describe('the endpoints section', () => {
  it('must be a non-empty object of objects with plain names, "all" excepted', () => {
    expect(() => endpointEntries({})).toThrow(/endpoints must be an object of named connection settings/);
    expect(() => endpointEntries([])).toThrow(/endpoints must be an object/);
    expect(() => endpointEntries({ 'a b': {} })).toThrow(/endpoint name "a b" must be letters/);
    expect(() => endpointEntries({ all: {} })).toThrow(/and not "all"/);
    expect(() => endpointEntries({ prod: 'tcp://x' })).toThrow(/endpoints.prod must be an object of connection settings/);
    expect(endpointEntries({ prod: { host: 'tcp://x:2375' }, 'lab-2': {} }).map(([n]) => n)).toEqual(['prod', 'lab-2']);
  });
});

describe('errors that are the caller\'s own', () => {
  it('name no endpoint: bad parameters and unknown names are refused before any Engine is asked', () => {
    const err = endpointError(new ConnectorError('INVALID_PARAMS', 'Unknown endpoint "nope" (endpoints); configured: a'), 'a');
    expect(err.endpoint).toBeUndefined();
    expect(err.message).toBe('Unknown endpoint "nope" (endpoints); configured: a');
    // The Engine's own 400 is that endpoint's answer.
    expect(endpointError(new ConnectorError('INVALID_PARAMS', 'bad parameter', { status: 400 }), 'a').message).toBe('Endpoint "a": bad parameter');
  });
});
