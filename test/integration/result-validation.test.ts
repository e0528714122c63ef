import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { CLI_BIN, runCli } from '../support/cli.js';
import { connectorFor } from '../support/connector.js';
import { engines, RESULT_CHECKS_DIR } from '../support/harness.js';
import { checkResult } from '../support/result-check.js';
import { readRecords } from '../support/result-coverage.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

/*
 * The result validation the whole integration suite runs under
 * (test/support/result-validation.setup.ts): a result that breaks its
 * published schema fails with what broke, and each surface a test uses
 * really validates (and records) what it receives.
 */

const FILE = 'test/integration/result-validation.test.ts';
const KEY = 'result-validation-key-4e8a1c';

describe.each(engines())('result validation on Engine $name (API $apiVersion)', (engine) => {
  let dc: DockerConnector;
  let version: Record<string, unknown>;

  beforeAll(async () => {
    dc = connectorFor(engine);
    version = (await dc.execute('get_version', {})) as Record<string, unknown>;
  });
  afterAll(() => dc.close());

  it('a result that breaks its schema fails, naming the operation, the Engine, the path and the rule', () => {
    expect(() => checkResult('get_version', version, { surface: 'library', host: engine.host, record: false })).not.toThrow();
    const broken = { ...version, Version: 42 };
    expect(() => checkResult('get_version', broken, { surface: 'library', host: engine.host, record: false })).toThrow(
      new RegExp(`get_version on Engine ${engine.name} \\(library\\)[\\s\\S]*at /Version: rule "type"`),
    );
  });

  it('MCP structuredContent: a list arrives wrapped as {result: …} and is validated unwrapped', async () => {
    const list = (await dc.execute('list_networks', {})) as Record<string, unknown>[];
    expect(list.length).toBeGreaterThan(0);
    expect(() => checkResult('list_networks', { result: list }, { surface: 'mcp', mcp: true, host: engine.host, record: false })).not.toThrow();
    expect(() => checkResult('list_networks', { result: [{ ...list[0], Name: 7 }] }, { surface: 'mcp', mcp: true, host: engine.host, record: false })).toThrow(/list_networks[\s\S]*at \/0\/Name/);
  });

  it('every surface validates and records what it receives: library, CLI, HTTP (fetch and raw), MCP', async () => {
    const before = mine(engine.name).length;
    // The library: connectorFor() and a DockerConnector built directly.
    await dc.execute('ping', {});
    const direct = new DockerConnector({ host: engine.host, rate_limit: 0, env: {} });
    await direct.execute('ping', {});
    direct.close();
    // The CLI.
    expect((await runCli(['run', 'ping', '--host', engine.host], { DOCKER_CONNECTOR_RATE_LIMIT: '0' })).code).toBe(0);
    // The HTTP service in-process (fetch) and as a child process (rawRequest).
    const service = HttpService.create({ base: dc, env: {}, surface: { api_keys: [{ id: 'rv', key: KEY, scopes: ['read'] }], audit_log: 'off', service: { listen: '127.0.0.1:0' } } });
    const url = await service.listen();
    let served: Served | undefined;
    try {
      const res = await fetch(`${url}/v1/operations/ping`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(200);
      served = await startServed(['serve', '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', 'off']);
      expect((await rawRequest(served.port, { method: 'POST', path: '/v1/operations/ping', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    } finally {
      await service.close();
      await served?.stop();
    }
    // MCP over stdio.
    const client = new Client({ name: 'result-validation', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI_BIN, 'mcp', '--host', engine.host], env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0' }, stderr: 'ignore' }));
    try {
      const r = await client.callTool({ name: 'ping', arguments: {} });
      expect(r.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    const surfaces = mine(engine.name)
      .slice(before)
      .filter((r) => r.operation === 'ping')
      .map((r) => r.surface);
    // The in-process service's connector validates too: one library record more.
    expect(surfaces.sort()).toEqual(['cli', 'http', 'http', 'library', 'library', 'library', 'mcp']);
  });
});

/** This file's records for one Engine, in the order written. */
function mine(engine: string) {
  return readRecords(RESULT_CHECKS_DIR).filter((r) => r.file === FILE && r.engine === engine && r.ok);
}
