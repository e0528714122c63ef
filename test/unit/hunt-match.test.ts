import { describe, expect, it } from 'vitest';
import { getOperation } from '../../src/operations/index.js';
import {
  commandLines,
  commandName,
  compileGlob,
  imageHasDigest,
  isValidGlob,
  labelMatches,
  matchingProcess,
  nameFilterHint,
  parseLabel,
  publishesHostPort,
  sameImageId,
} from '../../src/operations/shared/hunt-match.js';
import { mapBounded } from '../../src/operations/shared/map-bounded.js';

/* The matching rules of find_containers / find_images, without an Engine. */

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('name and process globs', () => {
  it('matches whole names, "*" and "?" and sets, case-sensitively', () => {
    const web = compileGlob('web-*');
    expect(web('web-1')).toBe(true);
    expect(web('web-')).toBe(true);
    expect(web('my-web-1')).toBe(false);
    expect(web('Web-1')).toBe(false);
    expect(compileGlob('db-?')('db-1')).toBe(true);
    expect(compileGlob('db-?')('db-12')).toBe(false);
    expect(compileGlob('{api,web}-[0-9]')('api-3')).toBe(true);
    expect(compileGlob('{api,web}-[0-9]')('job-3')).toBe(false);
    expect(compileGlob('python*')('python3.11')).toBe(true);
  });

  it('pushes a literal part of simple globs to the Engine (regex-escaped), nothing for the others', () => {
    expect(nameFilterHint('web-*')).toBe('web-');
    expect(nameFilterHint('*.prod.*')).toBe('\\.prod\\.');
    expect(nameFilterHint('a*longest*b')).toBe('longest');
    expect(nameFilterHint('exact')).toBe('exact');
    expect(nameFilterHint('*')).toBeUndefined();
    expect(nameFilterHint('{api,web}-1')).toBeUndefined();
    expect(nameFilterHint('!web')).toBeUndefined();
    expect(nameFilterHint('[ab]x')).toBeUndefined();
  });

  it('knows an unclosed pattern from a valid one', () => {
    expect(isValidGlob('web-*')).toBe(true);
    expect(isValidGlob('[')).toBe(true); // picomatch reads an unclosed "[" literally
  });
});

describe('command names from top', () => {
  it('takes the basename of the first word, without a retitled ":" or a login "-"', () => {
    expect(commandName('sleep 600')).toBe('sleep');
    expect(commandName('/usr/sbin/nginx -g daemon off;')).toBe('nginx');
    expect(commandName('nginx: worker process')).toBe('nginx');
    expect(commandName('-sh')).toBe('sh');
    expect(commandName('  /bin/top  -b')).toBe('top');
    expect(commandName('')).toBe('');
  });

  it('reads the command lines of Docker (CMD column) and of Podman 4.3 (one "PID USER COMMAND" column)', () => {
    expect(commandLines(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], [['root', '1', '0', '0', '10:00', '?', '00:00:00', 'sleep 600']])).toEqual(['sleep 600']);
    expect(commandLines(['USER', 'PID', 'COMMAND'], [['root', '1', 'nginx: master process']])).toEqual(['nginx: master process']);
    expect(commandLines(['PID   USER     COMMAND'], [['1 root     sleep 600'], ['7 root     /bin/httpd -f -p 8080']])).toEqual(['sleep 600', '/bin/httpd -f -p 8080']);
    expect(matchingProcess(['PID   USER     COMMAND'], [['1 root     sleep 600']], compileGlob('sleep'))).toBe('sleep');
    expect(commandLines(['X'], [['top -b']])).toEqual(['top -b']);
  });

  it('names the first process the glob matches, matching command names only (not arguments)', () => {
    const titles = ['UID', 'PID', 'CMD'];
    const rows = [
      ['root', '1', '/bin/sh -c sleep 600'],
      ['root', '7', 'sleep 600'],
    ];
    expect(matchingProcess(titles, rows, compileGlob('sleep'))).toBe('sleep');
    expect(matchingProcess(titles, rows, compileGlob('s*'))).toBe('sh');
    expect(matchingProcess(titles, rows, compileGlob('600'))).toBeUndefined();
    expect(matchingProcess(titles, [], compileGlob('*'))).toBeUndefined();
  });
});

describe('labels, ports, image ids and digests', () => {
  it('parses "key" and "key=value" (the value may hold "=")', () => {
    expect(parseLabel('team')).toEqual({ key: 'team', text: 'team' });
    expect(parseLabel('a=b=c')).toEqual({ key: 'a', value: 'b=c', text: 'a=b=c' });
    expect(parseLabel('a=')).toEqual({ key: 'a', value: '', text: 'a=' });
  });

  it('matches a label by presence or by exact value', () => {
    const labels = { team: 'red', empty: '' };
    expect(labelMatches(labels, parseLabel('team'))).toBe(true);
    expect(labelMatches(labels, parseLabel('team=red'))).toBe(true);
    expect(labelMatches(labels, parseLabel('team=blue'))).toBe(false);
    expect(labelMatches(labels, parseLabel('empty='))).toBe(true);
    expect(labelMatches(labels, parseLabel('other'))).toBe(false);
    expect(labelMatches(null, parseLabel('team'))).toBe(false);
    expect(labelMatches(labels, parseLabel('toString'))).toBe(false);
  });

  it('matches the host port, not the container port', () => {
    const ports = [{ PrivatePort: 80, PublicPort: 8080 }, { PrivatePort: 443 }];
    expect(publishesHostPort(ports, 8080)).toBe(true);
    expect(publishesHostPort(ports, 80)).toBe(false);
    expect(publishesHostPort(ports, 443)).toBe(false);
    expect(publishesHostPort(null, 8080)).toBe(false);
  });

  it('compares image ids with or without "sha256:"', () => {
    expect(sameImageId(D('a'), 'a'.repeat(64))).toBe(true);
    expect(sameImageId(D('a'), D('b'))).toBe(false);
    expect(sameImageId(undefined, D('a'))).toBe(false);
  });

  it('finds a bare digest as the id or as a repo digest under any name, never as a prefix', () => {
    const image = { Id: D('1'), RepoDigests: [`127.0.0.1:5000/app@${D('2')}`, `other/app@${D('3')}`] };
    expect(imageHasDigest(image, D('1'))).toBe(true);
    expect(imageHasDigest(image, D('2'))).toBe(true);
    expect(imageHasDigest(image, D('3'))).toBe(true);
    expect(imageHasDigest(image, D('4'))).toBe(false);
    expect(imageHasDigest({ Id: D('1'), RepoDigests: null }, D('2'))).toBe(false);
    expect(imageHasDigest({ Id: D('1'), RepoDigests: [`x@${D('2')}5`] }, D('2'))).toBe(false);
  });
});

describe('bounded work', () => {
  it('runs at most `limit` at once and keeps the order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n * 3));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});

describe('the hunts\' parameters', () => {
  const fc = getOperation('find_containers')!;
  const fi = getOperation('find_images')!;

  it('are read operations that fan out by themselves', () => {
    for (const op of [fc, fi]) expect(op).toMatchObject({ safety: 'read', idempotent: true, acrossEndpoints: true });
  });

  it('accepts every criterion and refuses unknown ones and bad values, naming them', () => {
    expect(fc.params.safeParse({}).success).toBe(true);
    expect(
      fc.params.safeParse({ image: `app@${D('a')}`, name: 'web-*', label: ['a', 'b=c'], published_port: 8080, process: 'ngin?', status: ['running', 'paused'], endpoints: ['old'] }).success,
    ).toBe(true);
    const bad = (p: unknown) => fc.params.safeParse(p).error?.issues.map((i) => i.path.join('.'));
    expect(bad({ color: 'red' })).toEqual(['']);
    expect(bad({ published_port: 0 })).toEqual(['published_port']);
    expect(bad({ published_port: 70000 })).toEqual(['published_port']);
    expect(bad({ label: '=x' })).toEqual(['label']);
    expect(bad({ status: 'sleeping' })).toEqual(['status']);
    expect(bad({ name: 'a\nb' })).toEqual(['name']);
    expect(bad({ image: 'Bad Image' })).toEqual(['image']);
    expect(bad({ endpoints: [] })).toEqual(['endpoints']);
  });

  it('find_images takes exactly one of reference and digest', () => {
    expect(fi.params.safeParse({ reference: 'app:1' }).success).toBe(true);
    expect(fi.params.safeParse({ digest: D('a') }).success).toBe(true);
    expect(fi.params.safeParse({}).error?.issues[0]).toMatchObject({ path: ['reference'], message: 'give exactly one of reference and digest' });
    expect(fi.params.safeParse({ reference: 'app', digest: D('a') }).success).toBe(false);
    expect(fi.params.safeParse({ digest: 'sha256:abc' }).error?.issues[0]?.path).toEqual(['digest']);
  });
});
