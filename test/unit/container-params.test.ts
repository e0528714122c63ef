import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  buildCreateBody,
  buildUpdateBody,
  mapChanges,
  ParamError,
  parseCpus,
  parseEnv,
  parseLabels,
  parsePorts,
  parsePortSpec,
  parseRestartPolicy,
  parseSize,
  parseVolumes,
  splitCommand,
} from '../../src/operations/shared/container-params.js';
import { validateParams } from '../../src/connector.js';
import { getOperation } from '../../src/operations/index.js';
import { ConnectorError } from '../../src/errors.js';

describe('parseSize', () => {
  it('reads binary units like docker run --memory', () => {
    expect(parseSize('512m')).toBe(512 * 1024 * 1024);
    expect(parseSize('512M')).toBe(512 * 1024 * 1024);
    expect(parseSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseSize('100kb')).toBe(102_400);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('2t')).toBe(2 * 1024 ** 4);
    expect(parseSize('300b')).toBe(300);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize(' 1 g ')).toBe(1024 ** 3);
    expect(parseSize(6_291_456)).toBe(6_291_456);
    expect(parseSize('1.5k')).toBe(1536);
  });
  it('refuses anything else, saying what it expects', () => {
    for (const bad of ['lots', '', '5x', '-1', '1e9', 'm', '5ib', '1..2m']) expect(() => parseSize(bad), bad).toThrow(ParamError);
    expect(() => parseSize('lots')).toThrow(/size like "512m"/);
    expect(() => parseSize(-5)).toThrow(ParamError);
    expect(() => parseSize(1.5)).toThrow(ParamError);
    expect(() => parseSize('99999999t')).toThrow(/too large/);
  });
  it('accepts -1 only where unlimited is meaningful (memory_swap)', () => {
    expect(parseSize(-1, true)).toBe(-1);
    expect(parseSize('-1', true)).toBe(-1);
    expect(() => parseSize(-1)).toThrow(ParamError);
  });
  it('agrees with the unit arithmetic for any whole number of each unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(['k', 1024], ['m', 1024 ** 2], ['g', 1024 ** 3]), (n, [u, f]) => {
        expect(parseSize(`${n}${u as string}`)).toBe(n * (f as number));
      }),
    );
  });
});

describe('parseCpus', () => {
  it('turns CPUs into NanoCpus', () => {
    expect(parseCpus(0.5)).toBe(500_000_000);
    expect(parseCpus(2)).toBe(2_000_000_000);
    expect(parseCpus('1.25')).toBe(1_250_000_000);
    expect(parseCpus(0.1)).toBe(100_000_000);
  });
  it('refuses zero, negatives, nonsense and absurd counts', () => {
    for (const bad of [0, -1, 'half', '', NaN, Infinity, 5000, 0.001]) expect(() => parseCpus(bad as number), String(bad)).toThrow(ParamError);
  });
});

describe('splitCommand', () => {
  it('splits on whitespace and honours simple quoting', () => {
    expect(splitCommand('sleep 300')).toEqual(['sleep', '300']);
    expect(splitCommand('  echo   a\tb ')).toEqual(['echo', 'a', 'b']);
    expect(splitCommand(`echo 'hello world' "two words" it\\'s`)).toEqual(['echo', 'hello world', 'two words', "it's"]);
    expect(splitCommand(`printf "a\\"b" ''`)).toEqual(['printf', 'a"b', '']);
    expect(splitCommand(`grep 'a|b' "x;y"`)).toEqual(['grep', 'a|b', 'x;y']);
    expect(splitCommand(`echo '$HOME'`)).toEqual(['echo', '$HOME']);
    expect(splitCommand('a#b')).toEqual(['a#b']);
  });
  it('refuses shell syntax and points to sh -c', () => {
    for (const bad of ['echo a | wc', 'a && b', 'a; b', 'echo $HOME', 'echo "$HOME"', 'ls *.log', 'cat < x', 'echo `id`', '(a)', 'echo # c']) {
      expect(() => splitCommand(bad), bad).toThrow(/shell syntax.*"sh", "-c"/);
    }
  });
  it('refuses empty strings and unterminated quotes', () => {
    expect(() => splitCommand('   ')).toThrow(/empty/);
    expect(() => splitCommand(`echo 'oops`)).toThrow(/unterminated ' quote/);
    expect(() => splitCommand('echo "oops')).toThrow(/unterminated " quote/);
    expect(() => splitCommand('echo \\')).toThrow(/backslash/);
  });
  it('round-trips any argv of plain words', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-zA-Z0-9_./=:-]{1,12}$/), { minLength: 1, maxLength: 8 }), (argv) => {
        expect(splitCommand(argv.join(' '))).toEqual(argv);
      }),
    );
  });
  it("round-trips any argv when each word is single-quoted", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 10 }).filter((s) => !s.includes("'")), { minLength: 1, maxLength: 5 }), (argv) => {
        expect(splitCommand(argv.map((w) => `'${w}'`).join(' '))).toEqual(argv);
      }),
    );
  });
});

describe('parseEnv and parseLabels', () => {
  it('accepts objects and KEY=value lists', () => {
    expect(parseEnv({ A: '1', B: 2, C: true })).toEqual(['A=1', 'B=2', 'C=true']);
    expect(parseEnv(['A=1', 'B=x=y', 'C='])).toEqual(['A=1', 'B=x=y', 'C=']);
    expect(parseLabels({ a: 'b' })).toEqual({ a: 'b' });
    expect(parseLabels(['a=b', 'flag', 'c=d=e'])).toEqual({ a: 'b', flag: '', c: 'd=e' });
  });
  it('refuses entries without a key', () => {
    expect(() => parseEnv(['NOEQUALS'])).toThrow(/entry 0/);
    expect(() => parseEnv(['=x'])).toThrow(ParamError);
    expect(() => parseEnv({ 'A=B': 'x' })).toThrow(/contain no "="/);
    expect(() => parseEnv({ '': 'x' })).toThrow(ParamError);
    expect(() => parseLabels(['=x'])).toThrow(/no label key/);
    expect(() => parseLabels({ '': 'x' })).toThrow(ParamError);
  });
});

describe('ports', () => {
  it('reads the docker run -p forms', () => {
    expect(parsePortSpec('8080:80')).toEqual([{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
    expect(parsePortSpec('80')).toEqual([{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
    expect(parsePortSpec('127.0.0.1:5353:53/udp')).toEqual([{ port: '53/udp', binding: { HostIp: '127.0.0.1', HostPort: '5353' } }]);
    expect(parsePortSpec('127.0.0.1::80')).toEqual([{ port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
    expect(parsePortSpec('[::1]:8443:443/TCP')).toEqual([{ port: '443/tcp', binding: { HostIp: '::1', HostPort: '8443' } }]);
    expect(parsePortSpec('8000-8001:80-81')).toEqual([
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8000' } },
      { port: '81/tcp', binding: { HostIp: '', HostPort: '8001' } },
    ]);
    expect(parsePortSpec('8000-8010:80')).toEqual([{ port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } }]);
    expect(parsePortSpec('90-91/sctp').map((x) => x.port)).toEqual(['90/sctp', '91/sctp']);
  });
  it('refuses malformed specs with a reason', () => {
    expect(() => parsePortSpec('80/icmp')).toThrow(/tcp, udp or sctp/);
    expect(() => parsePortSpec('http')).toThrow(/not a port number/);
    expect(() => parsePortSpec('0:80')).toThrow(/out of range/);
    expect(() => parsePortSpec('8080:70000')).toThrow(/out of range/);
    expect(() => parsePortSpec('90-80')).toThrow(/out of range/);
    expect(() => parsePortSpec('8000-8002:80-81')).toThrow(/differ in size/);
    expect(() => parsePortSpec('8000:80-81')).toThrow(/differ in size/);
    expect(() => parsePortSpec('300.1.1.1:80:80')).toThrow(/not an IPv4 address/);
    expect(() => parsePortSpec('::1:80:80')).toThrow(/brackets/);
    expect(() => parsePortSpec('[zz]:80:80')).toThrow(/not an IPv6/);
    expect(() => parsePortSpec('[::1]:80')).toThrow(/ipv6/);
  });
  it('builds ExposedPorts and PortBindings from a list or an object', () => {
    const fromList = parsePorts(['8080:80', '8081:80', '127.0.0.1:5353:53/udp', '9000']);
    expect(fromList.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '9000/tcp': {} });
    expect(fromList.PortBindings['80/tcp']).toEqual([
      { HostIp: '', HostPort: '8080' },
      { HostIp: '', HostPort: '8081' },
    ]);
    const fromObject = parsePorts({ '80/tcp': [8080, 8081], '53/udp': '127.0.0.1:5353', '9000': null });
    expect(fromObject).toEqual(fromList);
    expect(() => parsePorts({ '8080:80': 1 })).toThrow(/container port/);
  });
});

describe('parseVolumes', () => {
  it('separates binds from anonymous volumes', () => {
    expect(parseVolumes(['data:/data', '/srv/www:/www:ro', '/cache', 'v:/x:ro,nocopy'])).toEqual({
      binds: ['data:/data', '/srv/www:/www:ro', 'v:/x:ro,nocopy'],
      anonymous: { '/cache': {} },
    });
  });
  it('refuses what the Engine would misread', () => {
    expect(() => parseVolumes(['data'])).toThrow(/absolute container path/);
    expect(() => parseVolumes(['/cache'], true)).toThrow(/source:/);
    expect(() => parseVolumes(['vol:data'])).toThrow(/must be absolute/);
    expect(() => parseVolumes(['vol:/data:rox'])).toThrow(/unknown option "rox"/);
    expect(() => parseVolumes(['vol:/data:ro,rw'])).toThrow(/together/);
    expect(() => parseVolumes(['../etc:/data'])).toThrow(/neither an absolute host path nor a volume name/);
    expect(() => parseVolumes(['v:/data/../etc'])).toThrow(/".."/);
    expect(() => parseVolumes(['a:/b:ro:x'])).toThrow(/expected source/);
  });
});

describe('parseRestartPolicy', () => {
  it('reads strings and objects', () => {
    expect(parseRestartPolicy('always')).toEqual({ Name: 'always', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure:3')).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(parseRestartPolicy({ name: 'on-failure', maximum_retry_count: 5 })).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
    expect(parseRestartPolicy('no')).toEqual({ Name: 'no', MaximumRetryCount: 0 });
  });
  it('refuses unknown policies and misplaced retry counts', () => {
    expect(() => parseRestartPolicy('sometimes')).toThrow(/not a restart policy/);
    expect(() => parseRestartPolicy('always:3')).toThrow(/only valid with "on-failure"/);
    expect(() => parseRestartPolicy('on-failure:x')).toThrow(/whole number/);
    expect(() => parseRestartPolicy('on-failure:1:2')).toThrow(ParamError);
  });
});

describe('buildCreateBody', () => {
  it('maps friendly parameters to the Engine shape', () => {
    const body = buildCreateBody({
      image: 'dc-busybox:latest',
      command: ['sleep', '300'],
      env: ['A=1'],
      labels: { team: 'x' },
      ports: parsePorts(['8080:80']),
      volumes: parseVolumes(['data:/data', '/cache']),
      network: 'appnet',
      restart_policy: parseRestartPolicy('on-failure:2'),
      memory: parseSize('64m'),
      cpus: parseCpus(0.5),
      user: '1000:1000',
      working_dir: '/app',
      tty: true,
      auto_remove: false,
      hostname: 'box',
    });
    expect(body).toEqual({
      Image: 'dc-busybox:latest',
      Cmd: ['sleep', '300'],
      Env: ['A=1'],
      Labels: { team: 'x' },
      User: '1000:1000',
      WorkingDir: '/app',
      Hostname: 'box',
      Tty: true,
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/cache': {} },
      NetworkingConfig: { EndpointsConfig: { appnet: {} } },
      HostConfig: {
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
        Binds: ['data:/data'],
        NetworkMode: 'appnet',
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
        Memory: 64 * 1024 * 1024,
        NanoCpus: 500_000_000,
        AutoRemove: false,
      },
    });
  });
  it('lets friendly parameters win over config/host_config, merging maps key by key', () => {
    const body = buildCreateBody(
      { image: 'img', env: ['A=friendly'], labels: { a: 'friendly' }, memory: 1024, volumes: { binds: ['v:/v'], anonymous: {} } },
      { Image: 'ignored', Env: ['A=raw', 'B=raw'], Labels: { a: 'raw', b: 'raw' }, StopSignal: 'SIGINT' },
      { Memory: 1, ShmSize: 2, Binds: ['/h:/h'] },
    );
    expect(body.Image).toBe('img');
    expect(body.Env).toEqual(['B=raw', 'A=friendly']);
    expect(body.Labels).toEqual({ a: 'friendly', b: 'raw' });
    expect(body.StopSignal).toBe('SIGINT');
    expect(body.HostConfig).toEqual({ Memory: 1024, ShmSize: 2, Binds: ['/h:/h', 'v:/v'] });
  });
  it('sends no HostConfig or endpoint entries it was not asked for', () => {
    expect(buildCreateBody({ image: 'img' })).toEqual({ Image: 'img' });
    expect(buildCreateBody({ image: 'img', network: 'host' })).toEqual({ Image: 'img', HostConfig: { NetworkMode: 'host' } });
  });
});

describe('buildUpdateBody and mapChanges', () => {
  it('includes only the given fields', () => {
    expect(buildUpdateBody({ memory: 100, cpus: 5, pids_limit: 10, restart_policy: undefined })).toEqual({ Memory: 100, NanoCpus: 5, PidsLimit: 10 });
    expect(buildUpdateBody({})).toEqual({});
  });
  it('maps the Engine change kinds', () => {
    expect(
      mapChanges([
        { Path: '/a', Kind: 0 },
        { Path: '/b', Kind: 1 },
        { Path: '/c', Kind: 2 },
      ]),
    ).toEqual([
      { path: '/a', kind: 'changed' },
      { path: '/b', kind: 'added' },
      { path: '/c', kind: 'deleted' },
    ]);
    expect(mapChanges(null)).toEqual([]);
  });
});

describe('operation schemas', () => {
  const invalid = (op: string, params: unknown): ConnectorError => {
    try {
      validateParams(getOperation(op)!, params);
    } catch (err) {
      return err as ConnectorError;
    }
    throw new Error(`expected ${op} to refuse ${JSON.stringify(params)}`);
  };

  it('names the bad parameter', () => {
    const err = invalid('create_container', { image: 'dc-busybox:latest', memory: 'lots' });
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/memory: expected a size/);
    expect(err.details).toEqual({ parameters: ['memory'] });
    expect(invalid('create_container', { image: 'x', command: 'a | b' }).message).toMatch(/command: contains shell syntax/);
    expect(invalid('create_container', { image: 'x', ports: ['80/icmp'] }).message).toMatch(/ports: .*tcp, udp or sctp/);
    expect(invalid('create_container', { image: 'x', config: { host_config: {} } }).message).toMatch(/PascalCase/);
    expect(invalid('create_container', { image: 'x', config: { HostConfig: {} } }).message).toMatch(/host_config/);
    expect(invalid('create_container', { image: 'x', bogus: 1 }).message).toMatch(/unknown parameter "bogus"/);
    expect(invalid('start_container', { container: '../x' }).details).toEqual({ parameters: ['container'] });
    expect(invalid('update_container', { container: 'c' }).message).toMatch(/at least one setting/);
    expect(invalid('update_container', { container: 'c', cpus: 0 }).message).toMatch(/cpus:/);
    expect(invalid('container_commit', { container: 'c', repo: 'Bad:Repo' }).message).toMatch(/repo:/);
    expect(invalid('container_commit', { container: 'c', tag: 'v1' }).message).toMatch(/tag: a tag needs a repo/);
    expect(invalid('container_commit', { container: 'c', changes: ['RUN rm -rf /'] }).message).toMatch(/changes\.0:/);
    expect(invalid('prune_containers', { filters: { status: 'exited' } }).message).toMatch(/unknown parameter "filters.status"/);
    expect(invalid('wait_container', { container: 'c', condition: 'done' }).message).toMatch(/condition:/);
    expect(invalid('stop_container', { container: 'c', signal: 'SIG TERM' }).message).toMatch(/signal:/);
    expect(invalid('container_top', { container: 'c', ps_args: 'aux; rm' }).message).toMatch(/ps_args:/);
  });

  it('takes "container/alias" for remove_container only with link', () => {
    expect(invalid('remove_container', { container: 'web/db' }).message).toMatch(/container: .*only with link: true/);
    expect(invalid('remove_container', { container: 'web', link: true }).message).toMatch(/container: with link: true/);
    expect(invalid('remove_container', { container: 'web/../db', link: true }).details).toEqual({ parameters: ['container'] });
    expect(validateParams(getOperation('remove_container')!, { container: '/web/db', link: true })).toMatchObject({ container: '/web/db', link: true });
  });

  it('parses friendly values into Engine values', () => {
    const p = validateParams(getOperation('create_container')!, {
      image: 'dc-busybox:latest',
      command: 'sleep 300',
      memory: '512m',
      cpus: 0.5,
      restart_policy: 'on-failure:3',
      entrypoint: '',
    }) as Record<string, unknown>;
    expect(p).toMatchObject({ command: ['sleep', '300'], memory: 536_870_912, cpus: 500_000_000, restart_policy: { Name: 'on-failure', MaximumRetryCount: 3 }, entrypoint: [] });
  });
});
