import { describe, expect, it } from 'vitest';
import { mapHttpError } from '../../src/engine/error-map.js';

describe('an Engine without the endpoint', () => {
  it("reports UNSUPPORTED for a router's 404 (Docker's JSON, Podman's text), naming the route", () => {
    const docker = mapHttpError(404, '{"message":"page not found"}', 'application/json', { operation: 'update_container', route: 'POST /containers/x/update' });
    const podman = mapHttpError(404, 'Not Found\n', 'text/plain; charset=utf-8', { operation: 'update_container', route: 'POST /containers/x/update' });
    const podmanPath = mapHttpError(404, '{"message":"Path /v1.41/distribution/x/json is not supported"}', 'application/json', { operation: 'update_container', route: 'POST /containers/x/update' });
    for (const err of [docker, podman, podmanPath]) {
      expect(err.code).toBe('UNSUPPORTED');
      expect(err.message).toMatch(/^update_container: the Engine does not support this \(it has no POST \/containers\/x\/update endpoint/);
      expect(err.details).toMatchObject({ route: 'POST /containers/x/update' });
    }
  });

  it('keeps a missing object NOT_FOUND', () => {
    expect(mapHttpError(404, '{"message":"No such container: web"}', 'application/json', { route: 'GET /containers/web/json' }).code).toBe('NOT_FOUND');
    expect(mapHttpError(404, '{"message":"failed to find image x: image not known"}', 'application/json', {}).code).toBe('NOT_FOUND');
  });
});
