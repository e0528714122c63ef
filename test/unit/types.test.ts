import { describe, expect, expectTypeOf, it } from 'vitest';
import { DockerConnector, type ParamsOf, type ResultOf } from '../../src/index.js';

// These lines are checked by `npm run lint` (tsc): a wrong operation name or
// parameter type must not compile.
function compileTimeChecks(c: DockerConnector) {
  void c.execute('system_events', { since: '10m', max_events: 5 });
  // @ts-expect-error max_events is a number
  void c.execute('system_events', { max_events: 'five' });
  // @ts-expect-error unknown parameter
  void c.execute('get_version', { verbose: true });
}

describe('types inferred from the catalogue', () => {
  it('gives each operation its parameter and result types', () => {
    expectTypeOf<ParamsOf<'system_events'>>().toHaveProperty('since');
    expectTypeOf<ResultOf<'ping'>>().toHaveProperty('api_version');
    expectTypeOf<ResultOf<'health'>>().toHaveProperty('reachable');
    expect(typeof compileTimeChecks).toBe('function');
  });

  it('rejects the same mistakes at run time', async () => {
    const c = new DockerConnector({ host: 'unix:///nonexistent.sock', env: {}, retry_attempts: 0 });
    await expect(c.execute('system_events', { max_events: 'five' } as never)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('max_events') });
    await expect(c.execute('get_version', { verbose: true } as never)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('verbose') });
    c.close();
  });
});
