import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redact, secretValues } from '../../src/config/redact.js';
import { resolveEndpoint } from '../../src/engine/endpoint.js';
import { sshAuth } from '../../src/engine/ssh-auth.js';
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, knownHostsLine, knownKeyTypes } from '../../src/engine/ssh-known-hosts.js';
import { ConnectorError } from '../../src/errors.js';

/** Keys made by the real ssh-keygen, so the checks agree with OpenSSH's own reading of the same files. */
const dir = mkdtempSync(join(tmpdir(), 'dc-ssh-unit-'));
function keygen(name: string, type = 'ed25519', passphrase = ''): { path: string; pub: string; blob: Buffer } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', name, '-f', path]);
  const pub = readFileSync(`${path}.pub`, 'utf8').trim();
  return { path, pub, blob: Buffer.from(pub.split(' ')[1]!, 'base64') };
}
const a = keygen('host-a');
const b = keygen('host-b');
const ecdsa = keygen('host-ecdsa', 'ecdsa');
const typeAndKey = (k: { pub: string }) => k.pub.split(' ').slice(0, 2).join(' ');

const fails = (fn: () => unknown): ConnectorError => {
  try {
    fn();
  } catch (err) {
    return err as ConnectorError;
  }
  throw new Error('expected a failure');
};

describe('host key fingerprints and names', () => {
  it('prints the SHA256 fingerprint exactly as ssh-keygen -lf does', () => {
    for (const k of [a, ecdsa]) {
      const printed = execFileSync('ssh-keygen', ['-lf', `${k.path}.pub`], { encoding: 'utf8' }).split(' ')[1];
      expect(fingerprint(k.blob)).toBe(printed);
    }
  });

  it('names the key type from the blob and records hosts as OpenSSH does', () => {
    expect(keyTypeOf(a.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(ecdsa.blob)).toBe('ecdsa-sha2-nistp256');
    expect(knownHostName('example.com', 22)).toBe('example.com');
    expect(knownHostName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(knownHostsLine('127.0.0.1', 2222, a.blob)).toBe(`[127.0.0.1]:2222 ${typeAndKey(a)}`);
  });
});

describe('checkHostKey', () => {
  it('finds plain entries, on port 22 by name and on other ports as [host]:port only', () => {
    const text = `# comment\n\nexample.com ${typeAndKey(a)}\n[127.0.0.1]:2222 ${typeAndKey(b)} some comment\n`;
    expect(checkHostKey(text, 'example.com', 22, a.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(text, 'EXAMPLE.com', 22, a.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(text, '127.0.0.1', 2222, b.blob)).toEqual({ status: 'known' });
    // A name recorded for port 22 says nothing about another port.
    expect(checkHostKey(text, 'example.com', 2222, a.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(text, '127.0.0.1', 22, b.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey('', 'example.com', 22, a.blob)).toEqual({ status: 'unknown' });
  });

  it('reports a changed key with the lines that record the old one', () => {
    const text = `other ${typeAndKey(b)}\nexample.com ${typeAndKey(b)}\n`;
    expect(checkHostKey(text, 'example.com', 22, a.blob)).toEqual({ status: 'changed', lines: [2] });
  });

  it('reads hashed entries written by ssh-keygen -H, as ssh-keygen -F does', () => {
    const file = join(dir, 'known_hosts_hashed');
    writeFileSync(file, `example.com ${typeAndKey(a)}\n[127.0.0.1]:2222 ${typeAndKey(b)}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('example.com');
    expect(text).toMatch(/^\|1\|/);
    // OpenSSH finds both names in the hashed file ...
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' })).toContain('|1|');
    // ... and so do we; a name not in it stays unknown, another key for a hashed name is a change.
    expect(checkHostKey(text, 'example.com', 22, a.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(text, '127.0.0.1', 2222, b.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(text, 'example.org', 22, a.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(text, '127.0.0.1', 2222, a.blob)).toEqual({ status: 'changed', lines: [2] });
  });

  it('applies wildcards and negations, and refuses @revoked keys', () => {
    const text = `*.example.com,!bad.example.com ${typeAndKey(a)}\n@revoked * ${typeAndKey(b)}\n@cert-authority *.example.com ${typeAndKey(ecdsa)}\n`;
    expect(checkHostKey(text, 'web.example.com', 22, a.blob)).toEqual({ status: 'known' });
    expect(checkHostKey(text, 'bad.example.com', 22, a.blob)).toEqual({ status: 'unknown' });
    expect(checkHostKey(text, 'web.example.com', 22, b.blob)).toEqual({ status: 'revoked', line: 2 });
    // Host certificates are not checked: a CA line makes no key known.
    expect(checkHostKey(text, 'web.example.com', 22, ecdsa.blob)).toEqual({ status: 'changed', lines: [1] });
  });

  it('lists the key types known for a host (asked for first in the handshake)', () => {
    const text = `[h]:2222 ${typeAndKey(ecdsa)}\n[h]:2222 ${typeAndKey(a)}\nh ${typeAndKey(b)}\n`;
    expect(knownKeyTypes(text, 'h', 2222)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(knownKeyTypes(text, 'other', 22)).toEqual([]);
  });
});

describe('ssh:// endpoints', () => {
  const ep = (host: string) => resolveEndpoint(loadConfig({ env: {}, options: { host } }).config);

  it('parses ssh://[user@]host[:port] as the docker CLI takes it', () => {
    expect(ep('ssh://me@example.com')).toEqual({ kind: 'ssh', user: 'me', hostname: 'example.com', port: 22, address: 'ssh://me@example.com' });
    expect(ep('ssh://127.0.0.1:2222')).toEqual({ kind: 'ssh', user: undefined, hostname: '127.0.0.1', port: 2222, address: 'ssh://127.0.0.1:2222' });
    expect(ep('ssh://root@[::1]:2222')).toMatchObject({ kind: 'ssh', user: 'root', hostname: '::1', port: 2222 });
  });

  it('refuses a password, a path or no host, naming the form expected', () => {
    const pw = fails(() => ep('ssh://me:secret@example.com'));
    expect(pw.code).toBe('INVALID_CONFIG');
    expect(pw.message).toMatch(/must not carry a password/);
    expect(pw.message).not.toContain('secret');
    expect(fails(() => ep('ssh://example.com/var/run/docker.sock')).message).toMatch(/must not have a path.*ssh:\/\/\[user@\]host\[:port\]/);
  });
});

describe('ssh authentication settings', () => {
  const parseKey = ssh2.utils.parseKey as never;
  const cfg = (options: Record<string, unknown>) => loadConfig({ env: {}, options: { host: 'ssh://h', ...options } }).config;
  const plain = keygen('client-plain');
  const encrypted = keygen('client-encrypted', 'ecdsa', 'right passphrase');

  it('uses ssh_key alone when set, from a file or as PEM text', () => {
    const fromFile = sshAuth(cfg({ ssh_key: plain.path }), 'me', parseKey, { SSH_AUTH_SOCK: '/agent.sock' });
    expect(fromFile.methods.map((m) => m.type)).toEqual(['publickey']);
    expect(fromFile.tried).toEqual([`ssh_key ${plain.path}`]);
    const text = readFileSync(plain.path, 'utf8');
    const fromText = sshAuth(cfg({ ssh_key: text }), 'me', parseKey, {});
    expect(fromText.methods).toHaveLength(1);
    expect(fromText.tried).toEqual(['ssh_key (key text)']);
    const decrypted = sshAuth(cfg({ ssh_key: encrypted.path, ssh_key_passphrase: 'right passphrase' }), 'me', parseKey, {});
    expect(decrypted.methods).toHaveLength(1);
  });

  it('says what is wrong with an unusable ssh_key without quoting it', () => {
    const noPass = fails(() => sshAuth(cfg({ ssh_key: encrypted.path }), 'me', parseKey, {}));
    expect(noPass.code).toBe('INVALID_CONFIG');
    expect(noPass.message).toMatch(/encrypted: set ssh_key_passphrase/);
    const wrong = fails(() => sshAuth(cfg({ ssh_key: encrypted.path, ssh_key_passphrase: 'wrong passphrase' }), 'me', parseKey, {}));
    expect(wrong.message).toMatch(/ssh_key_passphrase does not decrypt it/);
    expect(wrong.message).not.toContain('wrong passphrase');
    const text = readFileSync(encrypted.path, 'utf8');
    const asText = fails(() => sshAuth(cfg({ ssh_key: text }), 'me', parseKey, {}));
    expect(asText.message).toMatch(/ssh_key \(key text\) cannot be used/);
    expect(asText.message).not.toContain('BEGIN');
    expect(fails(() => sshAuth(cfg({ ssh_key: join(dir, 'missing') }), 'me', parseKey, {})).message).toMatch(/ssh_key file .*missing cannot be read \(ENOENT\)/);
    expect(fails(() => sshAuth(cfg({ ssh_key: `${plain.path}.pub` }), 'me', parseKey, {})).message).toMatch(/public key; ssh_key takes the private key/);
  });

  it('without ssh_key: the agent first, then the default keys; encrypted default keys are skipped and named', () => {
    const home = mkdtempSync(join(tmpdir(), 'dc-ssh-home-'));
    mkdirSync(join(home, '.ssh'));
    writeFileSync(join(home, '.ssh', 'id_ed25519'), readFileSync(plain.path));
    writeFileSync(join(home, '.ssh', 'id_ecdsa'), readFileSync(encrypted.path));
    const auth = sshAuth(cfg({}), undefined, parseKey, { HOME: home, SSH_AUTH_SOCK: '/agent.sock', USER: 'someone' });
    expect(auth.methods.map((m) => m.type)).toEqual(['agent', 'publickey']);
    expect(auth.tried).toEqual(['the SSH agent (SSH_AUTH_SOCK)', join(home, '.ssh', 'id_ed25519')]);
    expect(auth.skipped).toEqual([`${join(home, '.ssh', 'id_ecdsa')} (encrypted: use the agent or ssh_key + ssh_key_passphrase)`]);
    const none = sshAuth(cfg({}), 'me', parseKey, { HOME: mkdtempSync(join(tmpdir(), 'dc-ssh-empty-')) });
    expect(none.methods).toEqual([]);
    expect(none.user).toBe('me');
  });

  it('treats the key text and the passphrase as secrets, the key path not', () => {
    const text = readFileSync(encrypted.path, 'utf8');
    const config = cfg({ ssh_key: text, ssh_key_passphrase: 'right passphrase' });
    const secrets = secretValues(config as unknown as Record<string, unknown>);
    expect(secrets).toContain(text);
    expect(secrets).toContain('right passphrase');
    expect(JSON.stringify(redact(config))).not.toContain('BEGIN');
    expect(JSON.stringify(redact(config))).not.toContain('right passphrase');
    expect(secretValues(cfg({ ssh_key: plain.path }) as unknown as Record<string, unknown>)).not.toContain(plain.path);
  });
});
