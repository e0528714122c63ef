import { expect } from 'vitest';
import type { ConnectorError } from 'docker-connector';

/**
 * Awaits a call that must fail and returns its ConnectorError (a success or a
 * foreign error fails the test). Checked by name and code, not by class:
 * integration tests get the bundle's class, unit tests the sources' one.
 */
export async function failure(call: Promise<unknown> | (() => Promise<unknown>)): Promise<ConnectorError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ConnectorError');
    expect(typeof (err as ConnectorError).code).toBe('string');
    return err as ConnectorError;
  }
  throw new Error('expected the call to fail');
}
