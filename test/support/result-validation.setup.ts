import { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { checkAnswer, checkResult, fleetHosts, hostOfServedPort, hostOption, optionValue, registerServedPort, resultOfHttpAnswer } from './result-check.js';

/*
 * Setup file of the integration projects: every result a test receives is
 * validated against the published result schema (test/support/result-check.ts)
 * without each test asking for it. The library is checked at the artifact's
 * own DockerConnector (so connectorFor(), `new DockerConnector(...)` and the
 * in-process HTTP and MCP services all go through it), the HTTP service at
 * fetch (and rawRequest in served.ts), MCP at the SDK Client's callTool, and
 * the CLI in runCli (cli.ts). The Engine of a served child process is learnt
 * from its command line and its "listening" line.
 */

const PATCHED = Symbol.for('docker-connector.result-validation');
type Patchable = { [PATCHED]?: true };

// --- the library: DockerConnector.executeDynamic (execute goes through it) ---
const connectorProto = DockerConnector.prototype as DockerConnector & Patchable;
if (!connectorProto[PATCHED]) {
  connectorProto[PATCHED] = true;
  const executeDynamic = connectorProto.executeDynamic;
  connectorProto.executeDynamic = async function (this: DockerConnector, name: string, params?: unknown, opts?: Parameters<DockerConnector['executeDynamic']>[2]) {
    const result = await executeDynamic.call(this, name, params, opts);
    checkResult(name, result, { surface: 'library', host: this.config.host });
    return result;
  };
}

// --- the in-process HTTP service: which Engine a port answers for ---
const serviceProto = HttpService.prototype as HttpService & Patchable;
if (!serviceProto[PATCHED]) {
  serviceProto[PATCHED] = true;
  const listen = serviceProto.listen;
  serviceProto.listen = async function (this: HttpService) {
    const url = await listen.call(this);
    const endpoints = Object.fromEntries([...this.endpoints].map(([name, c]) => [name, c.config.host ?? '']));
    registerServedPort(Number(new URL(url).port), { host: this.endpoints.values().next().value?.config.host, endpoints });
    return url;
  };
}

// --- served child processes (serve, mcp --listen): the Engine from the command line, the port from "listening" ---
const childProto = ChildProcess.prototype as ChildProcess & Patchable & { spawn(options: { args?: string[]; envPairs?: string[] }): unknown };
if (!childProto[PATCHED]) {
  childProto[PATCHED] = true;
  const spawn = childProto.spawn;
  childProto.spawn = function (this: ChildProcess, options: { args?: string[]; envPairs?: string[] }) {
    const out = spawn.call(this, options);
    const args = options.args ?? [];
    const stderr = this.stderr;
    if (stderr && args.some((a) => a.endsWith('docker-connector.js')) && (args.includes('serve') || args.includes('mcp'))) {
      const env = Object.fromEntries((options.envPairs ?? []).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
      const host = hostOption(args) ?? env.DOCKER_CONNECTOR_HOST ?? env.DOCKER_HOST;
      let seen = '';
      let found = false;
      // Watching emit, not adding a 'data' listener: the stream's flow stays the test's to decide.
      const emit = stderr.emit;
      stderr.emit = function (this: typeof stderr, event: string | symbol, ...rest: unknown[]) {
        if (event === 'data' && !found) {
          seen += String(rest[0]);
          const m = /"event":"listening","url":"([^"]+)"/.exec(seen);
          if (m) {
            registerServedPort(Number(new URL(m[1]!).port), { host });
            found = true;
          } else if (seen.length > 65536) seen = seen.slice(-4096);
        }
        return emit.call(this, event, ...rest);
      } as typeof stderr.emit;
    }
    return out;
  };
}

// --- the HTTP service over fetch: POST /v1/operations/<name> answered 200 with JSON ---
const g = globalThis as typeof globalThis & Patchable;
if (!g[PATCHED]) {
  g[PATCHED] = true;
  const fetchOriginal = globalThis.fetch;
  globalThis.fetch = async function (input: Parameters<typeof fetch>[0], init?: RequestInit) {
    const res = await fetchOriginal(input, init);
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const found = resultOfHttpAnswer(method, url.pathname, res.status, res.headers.get('content-type'));
    if (found) {
      const text = await res.clone().text();
      const port = Number(url.port);
      const selection = url.searchParams.get('endpoint');
      checkAnswer(found, text ? JSON.parse(text) : null, { surface: 'http', host: hostOfServedPort(port, selection), selection, hostOf: (name) => hostOfServedPort(port, name) });
    }
    return res;
  } as typeof fetch;
}

// --- MCP: tools/call through the SDK's Client ---
type CallTool = Client['callTool'];
const clientProto = Client.prototype as Client & Patchable;
if (!clientProto[PATCHED]) {
  clientProto[PATCHED] = true;
  const callTool = clientProto.callTool;
  clientProto.callTool = async function (this: Client, ...args: Parameters<CallTool>) {
    const r = await callTool.apply(this, args);
    const meta = (r._meta ?? {}) as Record<string, unknown>;
    // A result cut to the server's output limit is not the operation's result any more.
    if (!r.isError && r.structuredContent && typeof r.structuredContent === 'object' && !meta['docker-connector/truncated']) {
      // A stdio server started with a fleet config file: the Engine of each endpoint comes from that file.
      const fleet = mcpFleet(this);
      const selection = args[0].arguments?.endpoint;
      const host = fleet ? fleet.endpoints[typeof selection === 'string' && !selection.includes(',') && selection !== 'all' ? selection : fleet.default] : mcpHost(this);
      checkAnswer(args[0].name, r.structuredContent, { surface: 'mcp', mcp: true, host, selection, hostOf: (name) => fleet?.endpoints[name] });
    }
    return r;
  } as CallTool;
}

/** The Engine behind an MCP client: the stdio server's --host, or the port of an HTTP one. */
function mcpHost(client: Client): string | undefined {
  const t = client.transport as { _serverParams?: { args?: string[]; env?: Record<string, string> }; _url?: URL } | undefined;
  if (t?._serverParams) return hostOption(t._serverParams.args ?? []) ?? t._serverParams.env?.DOCKER_CONNECTOR_HOST ?? t._serverParams.env?.DOCKER_HOST;
  if (t?._url) return hostOfServedPort(Number(t._url.port), null);
  return undefined;
}

/** The named endpoints of a stdio MCP server started with --config (or DOCKER_CONNECTOR_CONFIG) holding an endpoints map. */
function mcpFleet(client: Client): ReturnType<typeof fleetHosts> {
  const t = client.transport as { _serverParams?: { args?: string[]; env?: Record<string, string> } } | undefined;
  if (!t?._serverParams) return undefined;
  const args = t._serverParams.args ?? [];
  return optionValue(args, '--config') !== undefined || t._serverParams.env?.DOCKER_CONNECTOR_CONFIG ? fleetHosts(args, t._serverParams.env ?? {}) : undefined;
}
