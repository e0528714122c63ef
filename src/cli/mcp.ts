import { InvalidArgumentError, type Command } from 'commander';
import type { DockerConnector } from '../connector.js';
import { McpService } from '../mcp/service.js';

/** What `mcp` borrows from the CLI: the connector built from the connection flags, the streams, error reporting. */
export interface McpHelpers {
  /** Builds the connector from the global connection flags, env and --config (main.ts's connect). */
  connect(cmd: Command): DockerConnector;
  io: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv; stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream };
  /** Reports an error and sets the exit code (main.ts's fail). */
  fail(err: unknown): void;
  /** Resolves when the server should stop (default: the first SIGTERM or SIGINT). */
  stopSignal?: () => Promise<NodeJS.Signals>;
}

interface McpFlags {
  listen?: string;
  allowWrite?: boolean;
  allowDestructive?: boolean;
  confirmDestructive?: boolean;
  auth: boolean;
  localFiles?: boolean;
  maxOutput?: number;
  auditLog?: string;
  allowedHost?: string[];
}

function nextSignal(): { promise: Promise<NodeJS.Signals>; cancel: () => void } {
  let on: (sig: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    on = (sig) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  return {
    promise,
    cancel: () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}

/** Repeatable option: each use adds a value. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function byteCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024) throw new InvalidArgumentError('expected a whole number of bytes, at least 1024');
  return n;
}

/**
 * `docker-connector mcp`: the operations as MCP tools. stdio by default (for
 * a client that starts it); `--listen host:port` serves streamable HTTP at
 * /mcp with API keys. Read operations only unless --allow-write or
 * --allow-destructive. Status lines go to stderr as JSON: on stdio, stdout
 * carries the protocol.
 */
export function registerMcp(program: Command, helpers: McpHelpers): Command {
  return program
    .command('mcp')
    .description('Run the MCP server: one tool per operation (stdio by default, streamable HTTP with --listen)')
    .option('--listen <host:port>', 'serve streamable HTTP at http://host:port/mcp instead of stdio (API keys required)')
    .option('--allow-write', 'offer write operations too (create, start, stop, pull, …)')
    .option('--allow-destructive', 'offer destructive operations too (remove, prune); implies --allow-write')
    .option('--confirm-destructive', 'run a destructive call only after the same call with dry_run: true in this session')
    .option('--no-auth', 'HTTP: accept calls without an API key (only when listening on loopback)')
    .option('--local-files', "let callers name files on this host (log/export destinations, build contexts); default on for stdio, off for HTTP")
    .option('--no-local-files', 'refuse parameters that name files on this host')
    .option('--max-output <bytes>', 'largest result returned into the conversation (default 102400); larger results are cut with a note', byteCount)
    .option('--audit-log <dest>', 'audit log destination: stderr (stdio default), stdout (HTTP default), off, or a file path')
    .option('--allowed-host <name>', 'HTTP: a host name clients use to reach the server besides loopback names and the listen address (repeat for more; replaces mcp.allowed_hosts)', collect)
    .action(async (flags: McpFlags, cmd: Command) => {
      const status = (event: string, fields: Record<string, unknown> = {}) => helpers.io.stderr.write(`${JSON.stringify({ event, ...fields })}\n`);
      let service: McpService | undefined;
      const signal = helpers.stopSignal ? { promise: helpers.stopSignal(), cancel: () => {} } : nextSignal();
      try {
        const base = helpers.connect(cmd);
        service = McpService.create({
          base,
          env: helpers.io.env,
          overrides: {
            listen: flags.listen,
            no_auth: !flags.auth,
            allow_write: flags.allowWrite,
            allow_destructive: flags.allowDestructive,
            confirm_destructive: flags.confirmDestructive,
            local_files: flags.localFiles,
            max_output_bytes: flags.maxOutput,
            audit_log: flags.auditLog,
            allowed_hosts: flags.allowedHost,
          },
        });
        const info = {
          transport: service.transport,
          level: service.host.gate.level,
          confirm_destructive: service.host.confirmDestructive,
          tools: service.toolNames().length,
          audit_log: service.audit.destination,
        };
        if (service.transport === 'http') {
          const url = await service.listen();
          status('listening', { url, auth: service.http!.authRequired, ...info });
          const sig = await signal.promise;
          status('stopping', { signal: sig });
        } else {
          status('ready', info);
          await service.serveStdio(helpers.io.stdin ?? process.stdin, helpers.io.stdout ?? process.stdout, signal.promise);
        }
        await service.close();
        status('stopped');
      } catch (err) {
        await service?.close().catch(() => {});
        helpers.fail(err);
      } finally {
        signal.cancel();
      }
    });
}
