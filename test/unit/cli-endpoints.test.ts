import { describe, expect, it } from 'vitest';
import { parseRunLine } from '../../src/cli/main.js';
import { checkHuntSelection, endpointNote, endpointsTable, parseEndpointOption, someEndpointFailed, someEndpointUnhealthy } from '../../src/cli/endpoints.js';
import type { EndpointStatus } from '../../src/connector.js';
import type { OperationDefinition } from '../../src/operations/define.js';
import { ConnectorError } from '../../src/errors.js';

const op = (fields: Partial<OperationDefinition>) => ({ name: 'x', safety: 'read', ...fields }) as OperationDefinition;

function usageError(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_PARAMS');
    return err as ConnectorError;
  }
  throw new Error('expected INVALID_PARAMS');
}

describe('--endpoint', () => {
  it('is read by the run fast path as commander names it', () => {
    expect(parseRunLine(['run', 'ping', '--endpoint', 'old,new'])?.opts).toMatchObject({ endpoint: 'old,new' });
    expect(parseRunLine(['run', 'ping', '--endpoint=all'])?.opts).toMatchObject({ endpoint: 'all' });
  });

  it('one bare name is one call; a comma or "all" is a fan-out whatever the count', () => {
    expect(parseEndpointOption(undefined)).toEqual({ kind: 'default' });
    expect(parseEndpointOption('prod')).toEqual({ kind: 'one', name: 'prod' });
    expect(parseEndpointOption(' prod ')).toEqual({ kind: 'one', name: 'prod' });
    expect(parseEndpointOption('a,b')).toEqual({ kind: 'several', selection: 'a,b' });
    expect(parseEndpointOption('a,')).toEqual({ kind: 'several', selection: 'a,' });
    expect(parseEndpointOption('all')).toEqual({ kind: 'several', selection: 'all' });
  });

  it('nothing but commas or spaces is a usage error naming --endpoint', () => {
    for (const v of ['', ' ', ',', ' , ']) expect(usageError(() => parseEndpointOption(v)).message).toMatch(/--endpoint/);
  });
});

describe('fan-out checks', () => {
  it('refuses a hunt given both --endpoint and its endpoints parameter', () => {
    const hunt = op({ name: 'find_containers', acrossEndpoints: true });
    expect(usageError(() => checkHuntSelection(hunt, { endpoints: ['a'] }, { kind: 'one', name: 'b' })).message).toMatch(/--endpoint .*endpoints parameter/);
    expect(() => checkHuntSelection(hunt, { endpoints: ['a'] }, { kind: 'default' })).not.toThrow();
    expect(() => checkHuntSelection(hunt, {}, { kind: 'several', selection: 'all' })).not.toThrow();
  });

  it('a fan-out failed when its errors has an entry; health also when a result is unreachable', () => {
    expect(someEndpointFailed({ results: { a: 1 }, errors: {} })).toBe(false);
    expect(someEndpointFailed({ results: {}, errors: { a: { code: 'TIMEOUT', message: 'm' } } })).toBe(true);
    expect(someEndpointFailed({ matches: [], errors: { a: { code: 'TIMEOUT', message: 'm' } } })).toBe(true);
    expect(someEndpointFailed([])).toBe(false);
    expect(someEndpointFailed(null)).toBe(false);
    expect(someEndpointUnhealthy({ results: { a: { reachable: true } }, errors: {} })).toBe(false);
    expect(someEndpointUnhealthy({ results: { a: { reachable: true }, b: { reachable: false } }, errors: {} })).toBe(true);
  });
});

const row = (fields: Partial<EndpointStatus>): EndpointStatus => ({
  name: 'x',
  default: false,
  reachable: true,
  endpoint: 'unix:///x.sock',
  endpoint_source: null,
  api_version: '1.51',
  engine_api_version: '1.51',
  engine_version: '28.5.2',
  latency_ms: 1,
  ...fields,
});

describe('the endpoints table', () => {
  it('aligns columns, marks the default, says why an endpoint is unreachable', () => {
    const text = endpointsTable([
      row({ name: 'old', engine_version: '20.10.24', api_version: '1.41' }),
      row({ name: 'new', default: true }),
      row({ name: 'down', reachable: false, endpoint: 'http://127.0.0.1:9', api_version: null, engine_version: null, error: { code: 'CONNECTION_FAILED', message: 'refused' } }),
    ]);
    expect(text).toBe(
      [
        'NAME   REACHABLE  ENGINE    API   ADDRESS',
        'old    yes        20.10.24  1.41  unix:///x.sock',
        'new *  yes        28.5.2    1.51  unix:///x.sock',
        'down   no         -         -     http://127.0.0.1:9',
        '',
        'down: refused',
        '',
        'default: new (calls without --endpoint go there)',
        '',
      ].join('\n'),
    );
  });

  it('without named endpoints: the one row, no default line', () => {
    expect(endpointsTable([row({ name: 'default', default: true })])).toBe('NAME       REACHABLE  ENGINE  API   ADDRESS\ndefault *  yes        28.5.2  1.51  unix:///x.sock\n');
  });
});

describe('describe text', () => {
  it('says how --endpoint applies to reads, writes and hunts', () => {
    expect(endpointNote(op({ name: 'list_containers' }))).toMatch(/--endpoint a,b or --endpoint all/);
    expect(endpointNote(op({ name: 'container_logs', localPaths: ['path'] }))).toMatch(/not with path/);
    expect(endpointNote(op({ name: 'remove_container', safety: 'destructive' }))).toMatch(/destructive operation it never runs on several/);
    expect(endpointNote(op({ name: 'find_containers', acrossEndpoints: true }))).toMatch(/searches every endpoint/);
  });
});
