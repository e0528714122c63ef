import { expect } from 'vitest';
import { ConnectorError } from 'docker-connector';

/** Awaits a call that must fail and returns its ConnectorError (a success or a foreign error fails the test). */
export async function failure(call: Promise<unknown> | (() => Promise<unknown>)): Promise<ConnectorError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    return err as ConnectorError;
  }
  throw new Error('expected the call to fail');
}
