import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Policy } from '../../src/access/policy.js';
import { GUARDRAIL_RULE_NAMES } from '../../src/config/guardrails.js';
import { imageAllowed, normalizeReference, parseImagePattern, type ImagePattern } from '../../src/config/image-patterns.js';
import { validateConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { hostPathRule, normalizeCapability, normalizeHostPath, securityOptRule } from '../../src/engine/guardrail-rules.js';
import { Guardrails, guardContext, guardrailsFor } from '../../src/engine/guardrails.js';
import { ConnectorError } from '../../src/errors.js';

const on = Guardrails.resolve(true, false)!;

function refusal(fn: () => void): ConnectorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const create = (body: unknown, g: Guardrails = on) => () => g.checkRequest('create_container', { method: 'POST', path: '/containers/create', body });
const hc = (host: Record<string, unknown>, g?: Guardrails) => create({ Image: 'alpine', HostConfig: host }, g);

/** Each rule with a HostConfig that breaks it and the value the message must name. */
const CREATE_CASES: [string, Record<string, unknown>, string][] = [
  ['privileged', { Privileged: true }, 'HostConfig.Privileged'],
  ['host_pid', { PidMode: 'host' }, 'PidMode'],
  ['host_ipc', { IpcMode: 'host' }, 'IpcMode'],
  ['host_uts', { UTSMode: 'host' }, 'UTSMode'],
  ['host_userns', { UsernsMode: 'host' }, 'UsernsMode'],
  ['host_network', { NetworkMode: 'host' }, 'NetworkMode'],
  ['capabilities', { CapAdd: ['CHOWN', 'SYS_ADMIN'] }, 'SYS_ADMIN'],
  ['devices', { Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }, '/dev/sda'],
  ['devices', { DeviceRequests: [{ Driver: 'nvidia', Count: -1 }] }, 'nvidia'],
  ['devices', { DeviceCgroupRules: ['c *:* rwm'] }, 'c *:* rwm'],
  ['seccomp_unconfined', { SecurityOpt: ['seccomp=unconfined'] }, 'seccomp=unconfined'],
  ['apparmor_unconfined', { SecurityOpt: ['apparmor=unconfined'] }, 'apparmor=unconfined'],
  ['label_disable', { SecurityOpt: ['label=disable'] }, 'label=disable'],
  ['systempaths_unconfined', { SecurityOpt: ['systempaths=unconfined'] }, 'systempaths=unconfined'],
  ['systempaths_unconfined', { MaskedPaths: [] }, 'MaskedPaths'],
  ['docker_socket', { Binds: ['/var/run/docker.sock:/var/run/docker.sock'] }, '/var/run/docker.sock'],
  ['host_paths', { Binds: ['/etc:/host-etc:ro'] }, '/etc:/host-etc:ro'],
  ['host_paths', { Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }, 'HostConfig.Mounts[0].Source'],
  ['host_paths', { Mounts: [{ Type: 'volume', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/proc' } } } }] }, '/proc'],
];

describe('guardrails: create_container bodies', () => {
  it.each(CREATE_CASES)('%s: %j is refused, naming the rule and the value', (rule, host, named) => {
    const err = refusal(hc(host));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.details).toMatchObject({ rule, policy: 'guardrails' });
    expect(err.message).toContain(rule);
    expect(err.message).toContain(named);
    expect(err.operation).toBe('create_container');
  });

  it.each(CREATE_CASES)('%s: relaxed by allow, every other rule still applying', (rule, host) => {
    const relaxed = Guardrails.resolve({ allow: [rule] }, false)!;
    expect(hc(host, relaxed)).not.toThrow();
    // Another rule is not relaxed by it.
    const other = rule === 'privileged' ? { PidMode: 'host' } : { Privileged: true };
    expect(refusal(hc({ ...host, ...other }, relaxed)).details).toMatchObject({ rule: rule === 'privileged' ? 'host_pid' : 'privileged' });
  });

  it('passes an ordinary container', () => {
    expect(hc({ Binds: ['/tmp/data:/data', 'myvolume:/v'], CapAdd: ['NET_BIND_SERVICE', 'CHOWN'], NetworkMode: 'bridge', PidMode: 'container:abc', SecurityOpt: ['no-new-privileges', 'apparmor=docker-default', 'label=level:s0:c100'], Mounts: [{ Type: 'volume', Source: 'data', Target: '/d' }, { Type: 'tmpfs', Target: '/t' }] })).not.toThrow();
    expect(create({ Image: 'alpine' })).not.toThrow();
  });

  it('reads field names as the Engine does: without regard to case, Kelvin sign and long s included', () => {
    expect(refusal(hc({ privileged: true })).details).toMatchObject({ rule: 'privileged' });
    expect(refusal(hc({ PRIVILEGED: true })).details).toMatchObject({ rule: 'privileged' });
    expect(refusal(create({ Image: 'alpine', hostconfig: { Privileged: true } })).details).toMatchObject({ rule: 'privileged' });
    expect(refusal(hc({ 'Networ\u212aMode': 'host' })).details).toMatchObject({ rule: 'host_network' });
    expect(refusal(hc({ '\u017fecurityOpt': ['seccomp=unconfined'] })).details).toMatchObject({ rule: 'seccomp_unconfined' });
    // Two keys folding to one field: either could be the one the Engine keeps.
    expect(refusal(hc({ Privileged: false, privileged: true })).details).toMatchObject({ rule: 'privileged' });
  });

  it('normalizes capabilities: CAP_ prefix, any case, a single string (StrSlice), Capabilities too', () => {
    for (const cap of ['ALL', 'all', 'CAP_SYS_ADMIN', 'cap_sys_ptrace', 'Sys_Module', 'NET_ADMIN', 'DAC_READ_SEARCH', 'SYS_RAWIO', 'BPF', 'perfmon', ' CAP_BPF ']) {
      expect(refusal(hc({ CapAdd: [cap] })).details, cap).toMatchObject({ rule: 'capabilities', value: [cap] });
    }
    expect(refusal(hc({ CapAdd: 'SYS_ADMIN' })).details).toMatchObject({ rule: 'capabilities' });
    expect(refusal(hc({ Capabilities: ['CAP_SYS_ADMIN'] })).details).toMatchObject({ rule: 'capabilities', field: 'HostConfig.Capabilities' });
    expect(normalizeCapability('cap_net_admin')).toBe('NET_ADMIN');
    expect(hc({ CapAdd: ['SYS_TIME', 'NET_RAW', 'CAP_SYSLOG'] })).not.toThrow();
  });

  it('reads security options in both forms and catches unconfined equivalents', () => {
    expect(securityOptRule('seccomp:unconfined')).toBe('seccomp_unconfined');
    expect(securityOptRule('seccomp = Unconfined')).toBe('seccomp_unconfined');
    expect(securityOptRule('apparmor:unconfined')).toBe('apparmor_unconfined');
    expect(securityOptRule('label:disable')).toBe('label_disable');
    expect(securityOptRule('label=type:spc_t')).toBe('label_disable');
    expect(securityOptRule('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}')).toBe('seccomp_unconfined');
    expect(securityOptRule('seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}')).toBeUndefined();
    expect(securityOptRule('label=user:USER')).toBeUndefined();
    expect(securityOptRule('no-new-privileges')).toBeUndefined();
    expect(securityOptRule('apparmor=my-profile')).toBeUndefined();
  });

  it('normalizes host paths: trailing slashes, //, /./, ..', () => {
    expect(normalizeHostPath('/etc/')).toBe('/etc');
    expect(normalizeHostPath('//etc//')).toBe('/etc');
    expect(normalizeHostPath('/./etc')).toBe('/etc');
    expect(normalizeHostPath('/tmp/../etc')).toBe('/etc');
    expect(normalizeHostPath('/../../')).toBe('/');
    for (const source of ['/', '//', '/.', '/tmp/..', '/etc/', '//etc', '/./etc', '/tmp/../etc', '/proc', '/sys/', '/dev', '/root', '/boot', '/var/lib/docker', '/run', '/var/run']) {
      expect(hostPathRule(source), source).toBe('host_paths');
    }
  });

  it('refuses what lies inside a listed folder and a folder holding one; not its neighbours', () => {
    for (const source of ['/etc/shadow', '/proc/1/root', '/sys/fs/cgroup', '/dev/sda', '/root/.ssh', '/var/lib/docker/volumes', '/run/containerd/containerd.sock', '/var', '/var/lib']) {
      expect(hostPathRule(source), source).toBe('host_paths');
    }
    for (const source of ['/etcetera', '/tmp/etc', '/home/user/data', '/srv', '/var/log/app', '/opt/run', '/devices', '/var/lib/dockerish', 'etc', 'myvolume']) {
      expect(hostPathRule(source), source).toBeUndefined();
    }
  });

  it('names the Docker socket wherever it is, and only the socket rule for it', () => {
    for (const source of ['/var/run/docker.sock', '/run/docker.sock', '/tmp/x/docker.sock', '/home/u/.docker/run/docker.sock', '/var/run/docker.sock/', '/var/run/../run/docker.sock']) {
      expect(hostPathRule(source), source).toBe('docker_socket');
    }
    const relaxed = Guardrails.resolve({ allow: ['docker_socket'] }, false)!;
    expect(hc({ Binds: ['/var/run/docker.sock:/var/run/docker.sock'] }, relaxed)).not.toThrow();
    expect(refusal(hc({ Binds: ['/var/run:/host-run'] }, relaxed)).details).toMatchObject({ rule: 'host_paths' });
  });

  it('reports every violation at once', () => {
    const err = refusal(hc({ Privileged: true, NetworkMode: 'host', Binds: ['/:/host'] }));
    expect((err.details as { violations: { rule: string }[] }).violations.map((v) => v.rule)).toEqual(['privileged', 'host_network', 'host_paths']);
  });

  it('refuses a body it cannot read rather than letting it through', () => {
    expect(refusal(create('{not json')).details).toMatchObject({ rule: 'guardrails' });
    expect(refusal(create(JSON.stringify({ Image: 'a', HostConfig: { Privileged: true } }))).details).toMatchObject({ rule: 'privileged' });
  });

  it('ignores other requests, and GETs of the same paths', () => {
    expect(() => on.checkRequest('inspect_container', { method: 'GET', path: '/containers/create', body: { HostConfig: { Privileged: true } } })).not.toThrow();
    expect(() => on.checkRequest('update_container', { method: 'POST', path: '/containers/abc/update', body: { Privileged: true } })).not.toThrow();
  });
});

describe('guardrails: exec, volumes, services', () => {
  it('refuses a privileged exec (privileged_exec), not an ordinary one', () => {
    const exec = (body: unknown, g = on) => () => g.checkRequest('exec_container', { method: 'POST', path: '/containers/abc/exec', body });
    expect(refusal(exec({ Cmd: ['id'], Privileged: true })).details).toMatchObject({ rule: 'privileged_exec', field: 'Privileged' });
    expect(exec({ Cmd: ['id'], Privileged: false })).not.toThrow();
    expect(exec({ Cmd: ['id'], Privileged: true }, Guardrails.resolve({ allow: ['privileged_exec'] }, false)!)).not.toThrow();
    // Relaxing privileged containers does not relax privileged execs.
    expect(refusal(exec({ Privileged: true }, Guardrails.resolve({ allow: ['privileged'] }, false)!)).details).toMatchObject({ rule: 'privileged_exec' });
  });

  it('refuses a volume whose device is a sensitive host path (a named-volume way around the bind rules)', () => {
    const vol = (body: unknown) => () => on.checkRequest('create_volume', { method: 'POST', path: '/volumes/create', body });
    expect(refusal(vol({ Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: '/etc' } })).details).toMatchObject({ rule: 'host_paths', value: '/etc' });
    expect(refusal(vol({ Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: '/var/run/docker.sock' } })).details).toMatchObject({ rule: 'docker_socket' });
    expect(vol({ Name: 'v', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=100m' } })).not.toThrow();
    expect(vol({ Name: 'v' })).not.toThrow();
  });

  it('applies the container rules to the containers a swarm service runs', () => {
    const svc = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => () =>
      on.checkRequest('create_service', { method: 'POST', path: '/services/create', body: { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'alpine', ...spec }, ...extra } } });
    expect(refusal(svc({ Mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/s' }] })).details).toMatchObject({ rule: 'docker_socket' });
    expect(refusal(svc({ CapabilityAdd: ['CAP_SYS_ADMIN'] })).details).toMatchObject({ rule: 'capabilities' });
    expect(refusal(svc({ Privileges: { Seccomp: { Mode: 'unconfined' } } })).details).toMatchObject({ rule: 'seccomp_unconfined' });
    expect(refusal(svc({ Privileges: { AppArmor: { Mode: 'disabled' } } })).details).toMatchObject({ rule: 'apparmor_unconfined' });
    expect(refusal(svc({ Privileges: { SELinuxContext: { Disable: true } } })).details).toMatchObject({ rule: 'label_disable' });
    expect(refusal(svc({}, { Networks: [{ Target: 'host' }] })).details).toMatchObject({ rule: 'host_network' });
    expect(svc({ Mounts: [{ Type: 'volume', Source: 'data', Target: '/d' }] })).not.toThrow();
    const images = Guardrails.resolve({ allowed_images: ['nginx'] }, false)!;
    expect(() => images.checkRequest('update_service', { method: 'POST', path: '/services/abc/update', body: { TaskTemplate: { ContainerSpec: { Image: 'alpine:3' } } } })).toThrow(/allowed_images/);
  });
});

describe('guardrails: allowed_images', () => {
  const patterns = (...list: string[]) => list.map((p) => parseImagePattern(p) as ImagePattern);
  const allowed = (ref: string, ...list: string[]) => imageAllowed(normalizeReference(ref), patterns(...list));
  const D = `sha256:${'ab'.repeat(32)}`;
  const D2 = `sha256:${'cd'.repeat(32)}`;

  it('normalizes Docker Hub names', () => {
    expect(normalizeReference('nginx').name).toBe('docker.io/library/nginx');
    expect(normalizeReference('nginx:1.27').name).toBe('docker.io/library/nginx');
    expect(normalizeReference('library/nginx').name).toBe('docker.io/library/nginx');
    expect(normalizeReference('docker.io/library/nginx:latest').name).toBe('docker.io/library/nginx');
    expect(normalizeReference('index.docker.io/bitnami/redis').name).toBe('docker.io/bitnami/redis');
    expect(normalizeReference('localhost:5000/app:1').name).toBe('localhost:5000/app');
    expect(normalizeReference('Registry.Example.com/team/app').name).toBe('registry.example.com/team/app');
    expect(normalizeReference(`nginx@${D}`)).toEqual({ name: 'docker.io/library/nginx', digest: D, idLike: false });
  });

  it('matches repositories whatever the tag, in every spelling', () => {
    for (const ref of ['nginx', 'nginx:1.27', 'library/nginx:alpine', 'docker.io/library/nginx', `nginx@${D}`]) {
      expect(allowed(ref, 'nginx'), ref).toBe(true);
      expect(allowed(ref, 'docker.io/library/nginx'), ref).toBe(true);
    }
    expect(allowed('nginxx', 'nginx')).toBe(false);
    expect(allowed('evil/nginx', 'nginx')).toBe(false);
    expect(allowed('registry.example.com/nginx', 'nginx')).toBe(false);
    expect(allowed('alpine', 'nginx')).toBe(false);
  });

  it('matches "*" patterns, within and across registries', () => {
    expect(allowed('registry.example.com/team/app:1', 'registry.example.com/team/*')).toBe(true);
    expect(allowed('registry.example.com/other/app', 'registry.example.com/team/*')).toBe(false);
    expect(allowed('bitnami/redis', 'bitnami/*')).toBe(true);
    expect(allowed('redis', 'bitnami/*')).toBe(false);
    expect(allowed('ghcr.io/x/y', '*')).toBe(true);
    expect(allowed('a.example.com/app', '*.example.com/app')).toBe(true);
  });

  it('matches digests: a bare digest under any name, repo@digest for that repository only; an id-like reference only by digest', () => {
    expect(allowed(`anything/at/all@${D}`, D)).toBe(true);
    expect(allowed(D, D)).toBe(true);
    expect(allowed('ab'.repeat(32), D)).toBe(true);
    expect(allowed(`nginx@${D2}`, D)).toBe(false);
    expect(allowed('nginx:1.27', D)).toBe(false);
    expect(allowed(`nginx@${D}`, `nginx@${D}`)).toBe(true);
    expect(allowed(`alpine@${D}`, `nginx@${D}`)).toBe(false);
    expect(allowed('nginx', `nginx@${D}`)).toBe(false);
    // A short id could be any local image: a repository pattern does not allow it.
    expect(allowed('abab12', 'docker.io/library/*')).toBe(false);
    expect(allowed('sha256:abab', D)).toBe(false);
  });

  it('refuses unusable entries with the reason', () => {
    expect(parseImagePattern('nginx:1.27')).toMatch(/names a tag/);
    expect(parseImagePattern('nginx@sha256:abc')).toMatch(/digest must be/);
    expect(parseImagePattern('')).toMatch(/empty/);
    expect(parseImagePattern('/abs')).toMatch(/not a repository pattern/);
    expect(parseImagePattern('localhost:5000/app')).toMatchObject({ source: 'localhost:5000/app' });
  });

  it('refuses create and pull of other images, requests and early parameter look alike', () => {
    const g = Guardrails.resolve({ allowed_images: ['nginx', 'registry.example.com/team/*'] }, false)!;
    expect(() => g.checkRequest('create_container', { method: 'POST', path: '/containers/create', body: { Image: 'nginx:1.27' } })).not.toThrow();
    const err = refusal(() => g.checkRequest('create_container', { method: 'POST', path: '/containers/create', body: { Image: 'alpine:3' } }));
    expect(err.details).toMatchObject({ rule: 'allowed_images', value: 'alpine:3' });
    expect(err.message).toContain('alpine:3');
    expect(() => g.checkRequest('pull_image', { method: 'POST', path: '/images/create', query: { fromImage: 'registry.example.com/team/app', tag: '2' } })).not.toThrow();
    expect(refusal(() => g.checkRequest('pull_image', { method: 'POST', path: '/images/create', query: { fromImage: 'busybox', tag: 'latest' } })).details).toMatchObject({ rule: 'allowed_images', value: 'busybox:latest' });
    // An import (fromSrc) is not a pull.
    expect(() => g.checkRequest('import_image', { method: 'POST', path: '/images/create', query: { fromSrc: '-', repo: 'x' } })).not.toThrow();
    expect(refusal(() => g.checkParams('pull_image', { image: 'busybox', tag: undefined })).details).toMatchObject({ rule: 'allowed_images', value: 'busybox' });
    expect(refusal(() => g.checkParams('create_container', { image: 'busybox' })).details).toMatchObject({ rule: 'allowed_images' });
    expect(() => g.checkParams('pull_image', { image: 'nginx', tag: 'alpine' })).not.toThrow();
    // Without allowed_images every image may be used.
    expect(() => on.checkParams('pull_image', { image: 'anything/else' })).not.toThrow();
  });
});

describe('guardrails: early look at parameters', () => {
  it('refuses create_container parameters the final body would carry', () => {
    expect(refusal(() => on.checkParams('create_container', { image: 'a', network: 'host' })).details).toMatchObject({ rule: 'host_network' });
    expect(refusal(() => on.checkParams('create_container', { image: 'a', binds: { binds: ['/etc:/e'], anonymous: {} } })).details).toMatchObject({ rule: 'host_paths' });
    expect(refusal(() => on.checkParams('create_container', { image: 'a', host_config: { CapAdd: ['ALL'] } })).details).toMatchObject({ rule: 'capabilities' });
    // The friendly network wins over host_config's, as in the body the operation builds.
    expect(() => on.checkParams('create_container', { image: 'a', network: 'bridge', host_config: { NetworkMode: 'host' } })).not.toThrow();
    expect(refusal(() => on.checkParams('exec_container', { container: 'c', command: 'id', privileged: true })).details).toMatchObject({ rule: 'privileged_exec' });
    expect(() => on.checkParams('exec_container', { container: 'c', command: 'id', privileged: false })).not.toThrow();
  });
});

describe('guardrails: the setting and its defaults', () => {
  it('is off for the library unless set, on for a surface unless false', () => {
    expect(Guardrails.resolve(undefined, false)).toBeNull();
    expect(Guardrails.resolve(undefined, true)).toBeInstanceOf(Guardrails);
    expect(Guardrails.resolve(false, true)).toBeNull();
    expect(Guardrails.resolve(true, false)).toBeInstanceOf(Guardrails);
    // An object turns guardrails on where they are off by default.
    expect(Guardrails.resolve({ allow: ['privileged'] }, false)?.allowed.has('privileged')).toBe(true);
    expect(Guardrails.resolve({ allowed_images: ['nginx'] }, false)?.images).toHaveLength(1);
    expect(guardrailsFor({}, undefined)).toBeNull();
    expect(guardrailsFor({ guardrails: true }, undefined)).toBeInstanceOf(Guardrails);
    // A surface's choice wins over the connector's own setting, both ways.
    expect(guardrailsFor({ guardrails: true }, null)).toBeNull();
    expect(guardrailsFor({}, on)).toBe(on);
  });

  it('is a config key: true, false, an object, or their text (env variable, flag)', () => {
    expect(validateConfig({ guardrails: true }).guardrails).toBe(true);
    expect(validateConfig({ guardrails: 'on' }).guardrails).toBe(true);
    expect(validateConfig({ guardrails: 'false' }).guardrails).toBe(false);
    expect(validateConfig({ guardrails: '{"allow":["privileged","host_network"]}' }).guardrails).toEqual({ allow: ['privileged', 'host_network'] });
    expect(validateConfig({ guardrails: { allowed_images: ['nginx'] } }).guardrails).toEqual({ allow: [], allowed_images: ['nginx'] });
    expect(validateConfig({}).guardrails).toBeUndefined();
  });

  it('refuses an unknown rule in allow as INVALID_CONFIG naming it', () => {
    expect(() => validateConfig({ guardrails: { allow: ['privileged', 'priviledged'] } })).toThrow(/guardrails\.allow\.1: unknown rule "priviledged"/);
    expect(() => Guardrails.resolve({ allow: ['nope'] }, true)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('guardrails.allow[0]: unknown rule "nope"') }));
    expect(() => validateConfig({ guardrails: { allow: ['allowed_images'] } })).toThrow(/cannot be relaxed/);
    expect(() => validateConfig({ guardrails: { allowed_images: ['nginx:latest'] } })).toThrow(/guardrails\.allowed_images\.0: "nginx:latest" names a tag/);
    expect(() => validateConfig({ guardrails: { alow: [] } })).toThrow(/unknown field "alow"/);
    expect(() => validateConfig({ guardrails: 'sometimes' })).toThrow(/guardrails: expected true, false/);
  });

  it('lists every rule name in the manifest field description and in the README\'s rule table', () => {
    const field = (configSchema.shape as Record<string, { description?: string }>).guardrails!;
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Guardrails'), readme.indexOf('\n## ', readme.indexOf('### Guardrails')));
    const tableRules = [...section.matchAll(/^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|/gm)].flatMap((m) => m[1]!.split(', ').map((r) => r.replace(/`/g, '')));
    expect(tableRules.sort()).toEqual([...GUARDRAIL_RULE_NAMES].sort());
    for (const rule of GUARDRAIL_RULE_NAMES) expect(field.description).toContain(rule);
  });

  it('gives a surface policy guardrails by default, and refuses them inside one endpoint', () => {
    const known = ['create_container'];
    expect(new Policy({}, { known }).guardrails).toBeInstanceOf(Guardrails);
    expect(new Policy({}, { known, guardrails: false }).guardrails).toBeNull();
    expect(new Policy({}, { known, guardrails: { allow: ['host_network'] } }).guardrails?.allowed.has('host_network')).toBe(true);
    expect(() => new Policy({}, { known, guardrails: { allow: ['bogus'] } })).toThrow(/unknown rule "bogus"/);
    expect(() => Policy.fromSurface({ endpoints: { prod: { host: 'tcp://x:2376', guardrails: false } } }, {}, { known })).toThrow(/endpoints\.prod\.guardrails/);
  });

  it('guards a context: a refused request never reaches the send function', () => {
    const sent: string[] = [];
    const ctx = {
      operation: 'create_container',
      json: (req: { path: string; method: string; body?: unknown }) => (sent.push(req.path), Promise.resolve({})),
      stream: (req: { path: string; method: string }) => (sent.push(req.path), Promise.resolve({})),
      upgrade: (req: { path: string }) => (sent.push(req.path), Promise.resolve({})),
      other: 1,
    };
    const guarded = guardContext({ guardrails: true }, undefined, ctx);
    expect(guarded.other).toBe(1);
    expect(() => guarded.json({ method: 'POST', path: '/containers/create', body: { Image: 'a', HostConfig: { Privileged: true } } })).toThrow(/privileged/);
    void guarded.json({ method: 'GET', path: '/containers/x/json' });
    expect(sent).toEqual(['/containers/x/json']);
    expect(guardContext({}, undefined, ctx)).toBe(ctx);
  });
});
