import { createRequire } from 'node:module';
import { redact } from './config/redact.js';

/** The slice of pino's interface the connector uses. */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => {};
export const silentLogger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop };

export type LogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const requireCjs = createRequire(import.meta.url);

/**
 * Structured JSON logs on stderr. pino is loaded only when something is to be
 * logged: a silent CLI call should not pay for it. Every object logged passes
 * through `redact`, so secret-named fields, secret `NAME=value` entries and
 * configured secret values never reach the output.
 */
export function createLogger(level: LogLevel, destination: number | string = 2): Logger {
  if (level === 'silent') return silentLogger;
  const pino = requireCjs('pino') as typeof import('pino');
  const logger = pino.default(
    {
      level,
      base: { name: 'docker-connector' },
      formatters: { log: (obj: Record<string, unknown>) => redact(obj) },
    },
    pino.destination({ dest: destination, sync: true }),
  );
  return logger as unknown as Logger;
}
