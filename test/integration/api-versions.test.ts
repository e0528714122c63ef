import { afterAll, describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { engines, harness } from '../support/harness.js';
import { TEST_LABEL, TEST_TRANSPORT, uniqueName } from '../support/connector.js';

/**
 * The connector accepts Engine API 1.40 and later (MIN_API_VERSION). No
 * harness Engine negotiates 1.40, so it is pinned (both accept older
 * clients): the requests are sent as /v1.40/… and the version-gated request
 * fields must be left out.
 */
describe.each(engines())('API 1.40 pinned on Engine $version', (engine) => {
  const dc = new DockerConnector({ host: engine.host, api_version: '1.40', rate_limit: 0, env: {}, ...TEST_TRANSPORT });
  afterAll(() => dc.close());

  it('speaks 1.40 and runs a container lifecycle, exec, logs and stats', async () => {
    expect((await dc.execute('ping')).api_version).toBe('1.40');
    const name = uniqueName('dcv140');
    const created = await dc.execute('create_container', { name, image: harness().image, command: ['sh', '-c', 'echo hello; sleep 30'], labels: { [TEST_LABEL]: '1' } });
    try {
      expect(created.id).toMatch(/^[0-9a-f]{64}$/);
      expect((await dc.execute('start_container', { container: name })).changed).toBe(true);
      const exec = await dc.execute('exec_container', { container: name, command: ['echo', 'from-exec'] });
      expect(exec).toMatchObject({ exit_code: 0, stdout: 'from-exec\n' });
      const logs = await dc.execute('container_logs', { container: name });
      expect('stdout' in logs && logs.stdout).toContain('hello');
      const stats = await dc.execute('container_stats', { container: name });
      expect(typeof stats.memory_usage).toBe('number');
      const listed = await dc.execute('list_containers', { filters: { name: [name] } });
      expect(listed.map((c) => c.Id)).toEqual([created.id]);
    } finally {
      expect((await dc.execute('remove_container', { container: name, force: true })).changed).toBe(true);
    }
  });
});
