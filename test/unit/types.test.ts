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

// Results are typed from each operation's result schema: fields are known,
// null and absent are told apart, and a misspelt field does not compile.
async function resultTypeChecks(c: DockerConnector) {
  const info = await c.execute('inspect_container', { container: 'web' });
  expectTypeOf(info.State.Running).toEqualTypeOf<boolean>();
  expectTypeOf(info.State.Status).toEqualTypeOf<'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead'>();
  expectTypeOf(info.State.Health?.Status).toEqualTypeOf<'none' | 'starting' | 'healthy' | 'unhealthy' | '' | undefined>();
  expectTypeOf(info.ExecIDs).toEqualTypeOf<string[] | null>();
  expectTypeOf(info.SizeRw).toEqualTypeOf<number | null | undefined>();
  expectTypeOf(info.NetworkSettings.Networks?.['bridge']?.IPAddress).toEqualTypeOf<string | undefined>();
  expectTypeOf(info.Config.Labels).toEqualTypeOf<Record<string, string> | null>();
  // @ts-expect-error misspelt field
  void info.State.Runing;
  // @ts-expect-error Names is a field of the list entries, not of the inspected container
  void info.Names;

  const list = await c.execute('list_containers', { all: true });
  const first = list[0]!;
  expectTypeOf(first.Names).toEqualTypeOf<string[] | null>();
  expectTypeOf(first.Created).toEqualTypeOf<number>();
  expectTypeOf(first.Ports).toEqualTypeOf<{ IP?: string | undefined; PrivatePort: number; PublicPort?: number | undefined; Type: 'tcp' | 'udp' | 'sctp' }[] | null>();
  // @ts-expect-error a list entry's State is a string, not the inspect object
  void first.State.Running;

  const removed = await c.execute('remove_container', { container: 'web', dry_run: true });
  expectTypeOf(removed.would_remove).toEqualTypeOf<boolean | undefined>();
  const waited = await c.execute('wait_container', { container: 'web' });
  expectTypeOf(waited.status_code).toEqualTypeOf<number>();
  const isolated = await c.execute('isolate_container', { container: 'web' });
  expectTypeOf(isolated.restore.networks[0]!.ipv4_address).toEqualTypeOf<string | null>();
  // @ts-expect-error isolate reports `paused`, restore reports `unpaused`
  void isolated.unpaused;
}

describe('types inferred from the catalogue', () => {
  it('gives each operation its parameter and result types', () => {
    expectTypeOf<ParamsOf<'system_events'>>().toHaveProperty('since');
    expectTypeOf<ResultOf<'ping'>>().toHaveProperty('api_version');
    expectTypeOf<ResultOf<'health'>>().toHaveProperty('reachable');
    expectTypeOf<ResultOf<'inspect_container'>['State']>().toHaveProperty('Running');
    expectTypeOf<ResultOf<'list_containers'>>().toBeArray();
    expect(typeof compileTimeChecks).toBe('function');
    expect(typeof resultTypeChecks).toBe('function');
  });

  it('rejects the same mistakes at run time', async () => {
    const c = new DockerConnector({ host: 'unix:///nonexistent.sock', env: {}, retry_attempts: 0 });
    await expect(c.execute('system_events', { max_events: 'five' } as never)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('max_events') });
    await expect(c.execute('get_version', { verbose: true } as never)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('verbose') });
    c.close();
  });
});
