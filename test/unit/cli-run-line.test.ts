import { describe, expect, it } from 'vitest';
import { parseRunLine } from '../../src/cli/main.js';

/**
 * `run` is read without commander (it is what scripts call most); every
 * other command line, and every one parseArgs refuses, goes to commander,
 * which then gives its usual answer. The fast path must read a line exactly
 * as commander's options would.
 */
describe('the run fast path', () => {
  it('reads flags before and after the operation as commander names them', () => {
    const r = parseRunLine(['--config', 'prod.yaml', 'run', 'remove_container', '--params', '{"container":"x"}', '--api-version', '1.44', '-p', 'force=true', '--param', 'volumes=true', '--params-file=p.json']);
    expect(r).toEqual({
      name: 'remove_container',
      opts: { config: 'prod.yaml', params: '{"container":"x"}', apiVersion: '1.44', param: ['force=true', 'volumes=true'], paramsFile: 'p.json' },
    });
  });

  it('turns --no-verify-ssl into the flag commander sets', () => {
    expect(parseRunLine(['run', 'ping', '--no-verify-ssl'])?.opts).toMatchObject({ noVerifySsl: true });
    expect(parseRunLine(['run', 'ping', '--tls-verify'])?.opts).toMatchObject({ tlsVerify: true });
    expect(parseRunLine(['run', 'ping'])?.opts).toEqual({ param: [] });
  });

  it('leaves everything else to commander', () => {
    for (const argv of [
      [],
      ['operations'],
      ['run'],
      ['run', 'ping', 'extra'],
      ['run', 'ping', '--help'],
      ['run', 'ping', '-h'],
      ['--version'],
      ['run', 'ping', '--bogus'],
      ['run', 'ping', '--host'],
      ['run', 'ping', '--verify-ssl', '--no-verify-ssl'],
      ['serve', '--no-auth'],
      ['help', 'run'],
    ]) {
      expect(parseRunLine(argv), argv.join(' ')).toBeUndefined();
    }
  });
});
