import type { ConnectorError } from '../../errors.js';

/** The Engine's own message of an error, else the connector's. */
export function engineMessageOf(err: ConnectorError): string {
  const m = err.details?.engine_message;
  return typeof m === 'string' ? m : err.message;
}
