import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Command } from 'commander';
import * as z from 'zod';
import { configSchema, type ConnectorConfigInput } from '../config/schema.js';
import { parseScalar } from '../config/load.js';
import { redact, scrubText } from '../config/redact.js';
import { DockerConnector } from '../connector.js';
import { ConnectorError, toConnectorError } from '../errors.js';
import { PACKAGE_VERSION } from '../package-info.js';
import { isOperationName, loadOperation } from '../operations/catalogue.js';
import { parameterSchema } from '../operations/parameter-schema.js';
import { createProgressRenderer } from './progress.js';
import { checkHuntSelection, endpointNote, endpointsTable, parseEndpointOption, someEndpointFailed, someEndpointUnhealthy } from './endpoints.js';

/** Exit codes are a contract: 0 success, 1 the operation failed, 2 bad usage or parameters. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const USAGE_CODES = new Set(['INVALID_PARAMS', 'INVALID_CONFIG', 'UNKNOWN_OPERATION']);

const CONFIG_FIELDS = Object.keys(configSchema.shape);
const kebab = (field: string) => field.replace(/_/g, '-');
const camel = (field: string) => field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** Connection flags mirror the configuration fields: --host, --api-version, --ca-cert, --rate-limit … */
function addConnectionOptions(cmd: Command, Option: typeof import('commander').Option): void {
  cmd.option('--config <file>', 'JSON or YAML config file (default: $DOCKER_CONNECTOR_CONFIG)');
  for (const field of CONFIG_FIELDS) {
    const desc = (configSchema.shape as Record<string, { description?: string }>)[field]?.description ?? '';
    if (field === 'verify_ssl') {
      cmd.addOption(new Option('--verify-ssl', 'verify the Engine certificate (default)'));
      cmd.addOption(new Option('--no-verify-ssl', 'do not verify the Engine certificate'));
      cmd.addOption(new Option('--tls-verify', 'alias of --verify-ssl').hideHelp());
      continue;
    }
    cmd.addOption(new Option(`--${kebab(field)} <value>`, desc));
  }
}

/** The flags given on the command line, as configuration settings. */
function flagSettings(opts: Record<string, unknown>): Partial<ConnectorConfigInput> {
  const out: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const value = opts[camel(field)];
    if (value === undefined) continue;
    out[field] = typeof value === 'string' ? parseScalar(field, value, `flag --${kebab(field)}`) : value;
  }
  if (opts.tlsVerify === true) out.verify_ssl = true;
  if (opts.noVerifySsl === true) out.verify_ssl = false;
  return out as Partial<ConnectorConfigInput>;
}

function json(value: unknown, pretty: boolean): string {
  return JSON.stringify(value, null, pretty ? 2 : undefined);
}

/** Coerces `-p key=value` by the parameter's declared type: strings stay strings, the rest is read as JSON. */
function coerceParam(props: Record<string, { type?: string | string[]; anyOf?: { type?: string }[] }>, key: string, raw: string): unknown {
  const prop = props[key];
  const types = prop ? [prop.type, ...(prop.anyOf ?? []).map((a) => a.type)].flat().filter(Boolean) : [];
  if (types.length === 1 && types[0] === 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface RunOptions {
  /** --endpoint: one name, "a,b" or "all" (src/cli/endpoints.ts). */
  endpoint?: string;
  params?: string;
  paramsFile?: string;
  param: string[];
}

/**
 * `run <operation>` with flags, read by node:util's parseArgs: the command
 * scripts call most starts without loading commander (a measurable share of
 * CLI start-up, bench/README.md). Anything else (help, version, another
 * command, a flag parseArgs refuses) returns undefined and goes through
 * commander, which then gives its usual answer, so both paths accept the
 * same command lines and only commander ever reports a usage error.
 */
export function parseRunLine(argv: string[]): { name: string; opts: Record<string, unknown> & RunOptions } | undefined {
  if (argv.some((a) => a === '-h' || a === '--help' || a === '--version' || a === 'help')) return undefined;
  const options: NonNullable<ParseArgsConfig['options']> = {
    config: { type: 'string' },
    params: { type: 'string' },
    'params-file': { type: 'string' },
    param: { type: 'string', short: 'p', multiple: true },
    endpoint: { type: 'string' },
    'verify-ssl': { type: 'boolean' },
    'no-verify-ssl': { type: 'boolean' },
    'tls-verify': { type: 'boolean' },
  };
  for (const field of CONFIG_FIELDS) if (field !== 'verify_ssl') options[kebab(field)] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch {
    return undefined;
  }
  const [command, name, ...extra] = parsed.positionals;
  if (command !== 'run' || !name || extra.length > 0) return undefined;
  const opts: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.values)) opts[camel(key.replace(/-/g, '_'))] = value;
  // Commander keeps the last of --verify-ssl / --no-verify-ssl; parseArgs cannot say which came last.
  if (opts.verifySsl === true && opts.noVerifySsl === true) return undefined;
  return { name, opts: { ...opts, param: (opts.param as string[] | undefined) ?? [] } };
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  // A one-shot command parses a few objects once: zod's JIT (code generated per object
  // schema on its first parse) costs more than it saves there (bench/README.md).
  // serve and mcp parse on every request and keep it.
  if (!argv.includes('serve') && !argv.includes('mcp')) z.config({ jitless: true });
  const pretty = Boolean(io.stdout.isTTY);
  let exitCode = EXIT_OK;
  let connector: DockerConnector | undefined;
  let secrets: string[] = [];

  const connectWith = (opts: Record<string, unknown>): DockerConnector => {
    connector = new DockerConnector({
      ...flagSettings(opts),
      configFile: opts.config as string | undefined,
      env: io.env,
      // On stderr whatever the log level (silent by default), in the shape of the CLI's error lines.
      onWarning: (message) => io.stderr.write(`${json({ warning: { code: 'DOCKER_ENV_IGNORED', message } }, false)}\n`),
    });
    // Each named endpoint has its own credentials: none of them may reach the output either.
    secrets = connector.secretValues();
    return connector;
  };
  const connect = (cmd: Command): DockerConnector => connectWith(cmd.optsWithGlobals() as Record<string, unknown>);

  const fail = (raw: unknown, operation?: string) => {
    const err = toConnectorError(raw, operation);
    const error = err.toJSON();
    if (error.details) error.details = redact(error.details);
    const body = scrubText(json({ error }, false), secrets);
    io.stderr.write(`${body}\n`);
    exitCode = USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILED;
  };

  /** `run`: the same for both parsers of the command line. */
  const runOperation = async (name: string, opts: RunOptions, connectOpts: Record<string, unknown>): Promise<void> => {
    try {
      if (!isOperationName(name)) throw new ConnectorError('UNKNOWN_OPERATION', `Unknown operation "${name}"; run "docker-connector operations" for the list`);
      const choice = parseEndpointOption(opts.endpoint);
      let params: Record<string, unknown> = {};
      if (opts.paramsFile) params = parseJsonObject(readFileSync(opts.paramsFile === '-' ? 0 : opts.paramsFile, 'utf8'), '--params-file');
      if (opts.params) params = { ...params, ...parseJsonObject(opts.params, '--params') };
      // The connector loads the operation's family anyway: reading its definition here costs nothing more.
      const op = await loadOperation(name);
      if (opts.param.length > 0) {
        const props = (op ? (parameterSchema(op).properties ?? {}) : {}) as Parameters<typeof coerceParam>[0];
        for (const kv of opts.param) {
          const eq = kv.indexOf('=');
          if (eq <= 0) throw new ConnectorError('INVALID_PARAMS', `Invalid -p "${kv}": expected key=value`);
          params[kv.slice(0, eq)] = coerceParam(props, kv.slice(0, eq), kv.slice(eq + 1));
        }
      }
      const c = connectWith(connectOpts);
      // A hunt searches several endpoints by itself (every one unless narrowed); other fan-outs answer {results, errors}.
      const across = op?.acrossEndpoints === true || choice.kind === 'several';
      if (op?.acrossEndpoints) checkHuntSelection(op, params, choice);
      let result: unknown;
      if (across) {
        result = await c.executeAcross(name, params, choice.kind === 'one' ? { endpoints: [choice.name] } : choice.kind === 'several' ? { endpoints: choice.selection } : {});
      } else {
        // Progress is drawn for one Engine's pull or build; a fan-out (read operations only) has none to draw.
        const onProgress = io.stderr.isTTY ? createProgressRenderer(io.stderr) : undefined;
        result = await c.executeDynamic(name, params, { onProgress: onProgress?.update, ...(choice.kind === 'one' ? { endpoint: choice.name } : {}) });
        onProgress?.done();
      }
      io.stdout.write(`${scrubText(json(result, pretty), secrets)}\n`);
      // A fan-out prints every endpoint's answer; an endpoint that failed makes the exit code 1.
      if (across && someEndpointFailed(result)) exitCode = EXIT_FAILED;
    } catch (err) {
      fail(err, name);
    }
  };

  const fast = parseRunLine(argv);
  if (fast) {
    try {
      await runOperation(fast.name, fast.opts, fast.opts);
    } finally {
      connector?.close();
    }
    return exitCode;
  }

  const { Command: CommandClass, Option, CommanderError } = await import('commander');
  const program = new CommandClass('docker-connector')
    .description('Drive the Docker Engine API through named, validated operations.')
    .version(PACKAGE_VERSION, '--version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();
  addConnectionOptions(program, Option);

  program
    .command('operations')
    .description('List the operations (name, category, safety, title)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      // Commands that describe every operation import the whole catalogue; `run` does not.
      const { listOperations } = await import('../operations/index.js');
      const ops = listOperations().map((op) => ({ name: op.name, category: op.category, safety: op.safety, idempotent: op.idempotent, title: op.title }));
      if (opts.json || !pretty) {
        io.stdout.write(`${json(ops, pretty)}\n`);
        return;
      }
      const width = Math.max(...ops.map((o) => o.name.length));
      for (const o of ops) io.stdout.write(`${o.name.padEnd(width)}  ${o.category.padEnd(10)}  ${o.safety.padEnd(11)}  ${o.title}\n`);
    });

  program
    .command('manifest')
    .description('Print the manifest: configuration fields and every operation with its parameter schema')
    .action(async () => {
      const { buildManifest } = await import('../manifest.js');
      io.stdout.write(`${json(buildManifest(), pretty)}\n`);
    });

  program
    .command('describe')
    .description('Describe one operation: safety, parameters, result fields, an example call')
    .argument('<operation>', 'operation name (see "operations")')
    .option('--json', 'print the manifest entry (parameter and result schemas)')
    .action(async (name: string, opts: { json?: boolean }) => {
      try {
        const [{ buildManifest }, { describePage, closeNames, wrap }] = await Promise.all([import('../manifest.js'), import('./describe.js')]);
        const ops = buildManifest().operations;
        const op = ops.find((o) => o.name === name);
        if (!op) {
          const close = closeNames(name, ops.map((o) => o.name));
          const hint = close.length ? `; did you mean ${close.join(', ')}?` : '';
          throw new ConnectorError('UNKNOWN_OPERATION', `Unknown operation "${name}"${hint} ("docker-connector operations" lists them all)`);
        }
        if (opts.json) {
          io.stdout.write(`${json(op, pretty)}\n`);
          return;
        }
        const definition = await loadOperation(name);
        io.stdout.write(`${describePage(op)}${definition ? `\nENDPOINTS\n${wrap(endpointNote(definition), '  ').join('\n')}\n` : ''}`);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('config')
    .description('Print the effective configuration, secrets redacted')
    .action((_opts, cmd: Command) => {
      try {
        const c = connect(cmd);
        // endpoint_source: which setting, docker context or discovered socket chose the host.
        io.stdout.write(`${json({ ...redact(c.config), endpoint_source: c.endpointSource.description }, pretty)}\n`);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('contexts')
    .description("List the docker CLI's contexts ($DOCKER_CONFIG/contexts): name, endpoint, TLS, and which is current and why")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      try {
        const { listContexts, contextsTable } = await import('./contexts.js');
        const all = cmd.optsWithGlobals() as Record<string, unknown>;
        const rows = listContexts(flagSettings(all), all.config as string | undefined, io.env);
        io.stdout.write(opts.json || !pretty ? `${json(rows, pretty)}\n` : contextsTable(rows));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('health')
    .description('Check the Engine: exit 0 when it answers, 1 when not; --endpoint a,b or all checks several (exit 1 when any does not answer)')
    .option('--endpoint <name>', 'the named endpoint to check (default: default_endpoint); a,b or all: several, answered as {results, errors}')
    .action(async (opts: { endpoint?: string }, cmd: Command) => {
      try {
        const choice = parseEndpointOption(opts.endpoint);
        const c = connect(cmd);
        if (choice.kind === 'several') {
          const answer = (await c.executeAcross('health', {}, { endpoints: choice.selection })) as Parameters<typeof someEndpointUnhealthy>[0];
          io.stdout.write(`${scrubText(json(answer, pretty), secrets)}\n`);
          exitCode = someEndpointUnhealthy(answer) ? EXIT_FAILED : EXIT_OK;
          return;
        }
        const result = await c.health(choice.kind === 'one' ? choice.name : undefined);
        io.stdout.write(`${scrubText(json(result, pretty), secrets)}\n`);
        exitCode = result.reachable ? EXIT_OK : EXIT_FAILED;
      } catch (err) {
        fail(err, 'health');
      }
    });

  program
    .command('endpoints')
    .description("List the named endpoints (config file's endpoints map): reachable, Engine and API version, address, default marked; exit 0 even with some unreachable")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      try {
        const rows = await connect(cmd).listEndpoints();
        io.stdout.write(scrubText(opts.json ? `${json(rows, pretty)}\n` : endpointsTable(rows), secrets));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('run')
    .description('Run an operation; the result is JSON on stdout (--endpoint: a named endpoint, or a,b / all for several)')
    .argument('<operation>', 'operation name (see "operations")')
    .option('--params <json>', 'parameters as a JSON object')
    .option('--params-file <file>', 'parameters from a JSON file ("-" for stdin)')
    .option('-p, --param <key=value>', 'one parameter; repeatable (values are read as JSON unless the parameter is a string)', collect, [])
    .option('--endpoint <name>', "the named endpoint (config file's endpoints map) to run on (default: default_endpoint); a,b or all: a read operation on several, printed as {results, errors}, exit 1 when any endpoint failed")
    .action(async (name: string, opts: RunOptions, cmd: Command) => runOperation(name, opts, cmd.optsWithGlobals() as Record<string, unknown>));

  // The service surfaces load fastify or the MCP SDK: register them only when
  // the command line may need them, so `run` starts without paying for them.
  const mentions = (word: string) => argv.includes(word) || argv.length === 0 || argv.some((a) => a === '--help' || a === '-h' || a === 'help');
  if (mentions('serve')) (await import('./serve.js')).registerServe(program, { connect, io, fail });
  if (mentions('mcp')) (await import('./mcp.js')).registerMcp(program, { connect, io: { stderr: io.stderr, stdout: io.stdout, env: io.env }, fail: (err) => fail(err) });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; everything else is bad usage.
      exitCode = err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    } else {
      fail(err);
    }
  } finally {
    connector?.close();
  }
  return exitCode;
}

function parseJsonObject(text: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid ${source}: not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid ${source}: expected a JSON object of named parameters`);
  }
  return value as Record<string, unknown>;
}
