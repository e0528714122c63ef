import type { Command } from 'commander';
import type { DockerConnector } from '../connector.js';
import { HttpService } from '../http/service.js';

/** What `serve` borrows from the CLI: the connector built from the connection flags, the streams, error reporting. */
export interface ServeHelpers {
  /** Builds the connector from the global connection flags, env and --config (main.ts's connect). */
  connect(cmd: Command): DockerConnector;
  io: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv };
  /** Reports an error and sets the exit code (main.ts's fail). */
  fail(err: unknown): void;
  /** Resolves when the service should stop (default: the first SIGTERM or SIGINT). */
  stopSignal?: () => Promise<NodeJS.Signals>;
}

interface ServeFlags {
  listen?: string;
  auth: boolean;
  readOnly?: boolean;
  auditLog?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowedHost?: string[];
  metricsListen?: string;
}

/** Repeatable option: each use adds a value. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/**
 * `docker-connector serve`: the HTTP service. Runs until SIGTERM/SIGINT,
 * then finishes in-flight calls (up to service.shutdown_timeout) and exits 0;
 * a second signal cancels what is still running. Status lines go to stderr
 * as JSON (stdout may carry the audit log).
 */
export function registerServe(program: Command, helpers: ServeHelpers): Command {
  return program
    .command('serve')
    .description('Run the HTTP service: POST /v1/operations/{name}, GET /openapi.json, /docs')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:8080, or service.listen)')
    .option('--no-auth', 'accept calls without an API key (only when listening on loopback)')
    .option('--read-only', 'refuse every write and destructive operation')
    .option('--audit-log <dest>', 'audit log destination: stdout (default), stderr, off, or a file path')
    .option('--tls-cert <file>', 'PEM certificate to serve HTTPS with (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--metrics-listen <host:port>', 'also serve GET /metrics, without an API key, on this loopback address (or service.metrics_listen)')
    .option('--allowed-host <name>', 'a host name clients use to reach the service besides loopback names and the listen address (repeat for more; replaces service.allowed_hosts)', collect)
    .action(async (flags: ServeFlags, cmd: Command) => {
      const status = (event: string, fields: Record<string, unknown> = {}) => helpers.io.stderr.write(`${JSON.stringify({ event, ...fields })}\n`);
      let service: HttpService | undefined;
      try {
        const base = helpers.connect(cmd);
        service = HttpService.create({
          base,
          env: helpers.io.env,
          overrides: {
            listen: flags.listen,
            tls_cert: flags.tlsCert,
            tls_key: flags.tlsKey,
            allowed_hosts: flags.allowedHost,
            metrics_listen: flags.metricsListen,
            read_only: flags.readOnly,
            audit_log: flags.auditLog,
            no_auth: !flags.auth,
          },
        });
        const url = await service.listen();
        status('listening', { url, endpoints: [...service.endpoints.keys()], auth: service.authRequired, audit_log: service.audit.destination, ...(service.metricsUrl ? { metrics_url: service.metricsUrl } : {}) });
        const signal = await (helpers.stopSignal ?? nextSignal)();
        status('stopping', { signal, shutdown_timeout: service.settings.shutdown_timeout });
        // A second signal while draining: cancel what is still running.
        const force = () => service?.abortInFlight();
        process.once('SIGTERM', force);
        process.once('SIGINT', force);
        try {
          await service.close();
        } finally {
          process.off('SIGTERM', force);
          process.off('SIGINT', force);
        }
        status('stopped');
      } catch (err) {
        await service?.close().catch(() => {});
        helpers.fail(err);
      }
    });
}
