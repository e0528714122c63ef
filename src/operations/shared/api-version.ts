import { ConnectorError } from '../../errors.js';
import type { OperationContext } from '../define.js';

/** Fails with API_VERSION_UNSUPPORTED, before anything is sent, when a parameter needs a newer API. */
export function requireApi(ctx: OperationContext, version: string, param: string): void {
  if (!ctx.atLeast(version)) {
    throw new ConnectorError('API_VERSION_UNSUPPORTED', `Parameter ${param} needs Engine API ${version} or newer; this Engine speaks ${ctx.apiVersion}`, {
      operation: ctx.operation,
      details: { parameters: [param] },
    });
  }
}
