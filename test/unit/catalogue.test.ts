import { describe, expect, it } from 'vitest';
import { FAMILY_LOADERS, OPERATION_FAMILIES, isOperationName, loadOperation, loadedOperation, type Family } from '../../src/operations/catalogue.js';
import { listOperations } from '../../src/catalogue.js';
import { DockerConnector } from '../../src/index.js';
import { failure } from '../support/expect-error.js';

describe('the catalogue\'s family table (name → family file, for lazy loading)', () => {
  it('names every operation of the catalogue, and nothing else', () => {
    expect(Object.keys(OPERATION_FAMILIES).sort()).toEqual(listOperations().map((op) => op.name).sort());
  });

  it('puts each name in the family file that declares it', async () => {
    for (const family of Object.keys(FAMILY_LOADERS) as Family[]) {
      const declared = (await FAMILY_LOADERS[family]()).map((op) => op.name).sort();
      const catalogued = Object.entries(OPERATION_FAMILIES)
        .filter(([, f]) => f === family)
        .map(([name]) => name)
        .sort();
      expect(declared, family).toEqual(catalogued);
    }
  });

  it('loads an operation on demand, the same object the eager catalogue holds', async () => {
    const op = await loadOperation('inspect_volume');
    expect(op).toBe(listOperations().find((o) => o.name === 'inspect_volume'));
    expect(loadedOperation('inspect_volume')).toBe(op);
  });

  it('knows nothing of unknown or inherited names', async () => {
    for (const name of ['nope', 'constructor', 'toString', '__proto__', '']) {
      expect(isOperationName(name), name).toBe(false);
      expect(await loadOperation(name), name).toBeUndefined();
    }
  });

  it('the connector refuses an unknown operation with UNKNOWN_OPERATION, before any Engine call', async () => {
    const c = new DockerConnector({ host: 'unix:///nonexistent/docker.sock', env: {} });
    const err = await failure(c.executeDynamic('constructor', {}));
    expect(err.code).toBe('UNKNOWN_OPERATION');
    expect(err.message).toContain('"constructor"');
  });
});
