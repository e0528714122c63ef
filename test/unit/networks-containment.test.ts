import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src/index.js';
import { getOperation } from '../../src/catalogue.js';
import { ConnectorError } from '../../src/errors.js';
import { cidrContains, parseCidr, parseIp } from '../../src/operations/shared/ip.js';
import { ipamPoolProblems } from '../../src/operations/networks.js';
import {
  createdBefore,
  enginePruneFilters as engineFilters,
  matchesLabelFilters,
  planBuildCachePrune,
  planContainerPrune,
  planImagePrune,
  resolvePruneFilters,
} from '../../src/operations/shared/prune.js';
import type { ImageSummary } from '../../src/operations/shared/engine-types.js';
import { restoreEntry, restoreRecordSchema, userAliases } from '../../src/operations/containment.js';

/** Validation alone, synchronously, with the operation taken from the full catalogue. */
function validate(op: string, params: unknown): unknown {
  const def = getOperation(op);
  if (!def) throw new Error(`no operation ${op}`);
  return validateParams(def, params);
}

function invalid(op: string, params: unknown): ConnectorError {
  try {
    validate(op, params);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_PARAMS');
    return err as ConnectorError;
  }
  throw new Error(`expected ${op} to reject ${JSON.stringify(params)}`);
}

describe('IP parsing', () => {
  it('parses IPv4 and IPv6, compressed and with an IPv4 tail', () => {
    expect(parseIp('10.1.2.3')).toEqual({ bits: 32, value: 0x0a010203n });
    expect(parseIp('::1')).toEqual({ bits: 128, value: 1n });
    expect(parseIp('fd00::')?.value).toBe(0xfd00n << 112n);
    expect(parseIp('::ffff:10.0.0.1')?.value).toBe((0xffffn << 32n) | 0x0a000001n);
    expect(parseIp('1:2:3:4:5:6:7:8')?.value).toBe(0x00010002000300040005000600070008n);
  });
  it('refuses what is not an address', () => {
    for (const bad of ['10.0.0.256', '10.0.0', 'a.b.c.d', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fd00::g', '', '10.0.0.1/24']) expect(parseIp(bad)).toBeUndefined();
  });
  it('parses CIDR and checks containment', () => {
    const net = parseCidr('172.30.0.0/16')!;
    expect(net.prefix).toBe(16);
    expect(cidrContains(net, parseIp('172.30.255.1')!)).toBe(true);
    expect(cidrContains(net, parseIp('172.31.0.1')!)).toBe(false);
    expect(cidrContains(net, parseCidr('172.30.5.0/24')!)).toBe(true);
    expect(cidrContains(parseCidr('172.30.5.0/24')!, parseCidr('172.30.0.0/16')!)).toBe(false);
    expect(cidrContains(parseCidr('fd00:1::/64')!, parseIp('fd00:1::5')!)).toBe(true);
    expect(cidrContains(net, parseIp('fd00:1::5')!)).toBe(false);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', 'x/8']) expect(parseCidr(bad)).toBeUndefined();
  });
  it('names the field that does not fit the subnet', () => {
    expect(ipamPoolProblems({ subnet: '10.9.0.0/24', gateway: '10.9.0.1', ip_range: '10.9.0.128/25' })).toEqual([]);
    expect(ipamPoolProblems({ subnet: '10.9.0.0/24', gateway: '10.8.0.1' })).toEqual([['gateway', '10.8.0.1 is not inside subnet 10.9.0.0/24']]);
    expect(ipamPoolProblems({ gateway: '10.8.0.1' })[0]?.[0]).toBe('gateway');
    expect(ipamPoolProblems({ subnet: '10.9.0.0/24', aux_addresses: { h: '10.10.0.1' } })[0]?.[0]).toBe('aux_addresses.h');
  });
});

describe('create_network parameters', () => {
  it('rejects a subnet that is not CIDR, naming it', () => {
    const err = invalid('create_network', { name: 'n1', subnet: '10.0.0.0' });
    expect(err.message).toMatch(/subnet: expected a subnet in CIDR notation/);
  });
  it('rejects gateway outside subnet, gateway without subnet, ipam together with subnet', () => {
    expect(invalid('create_network', { name: 'n1', subnet: '10.0.0.0/24', gateway: '10.0.1.1' }).message).toMatch(/gateway: 10\.0\.1\.1 is not inside subnet/);
    expect(invalid('create_network', { name: 'n1', gateway: '10.0.1.1' }).message).toMatch(/gateway: needs a subnet/);
    expect(invalid('create_network', { name: 'n1', subnet: '10.0.0.0/24', ipam: { config: [] } }).message).toMatch(/ipam: give either/);
    expect(invalid('create_network', { name: 'n1', ipam: { config: [{ subnet: '10.0.0.0/24', ip_range: '10.1.0.0/25' }] } }).message).toMatch(/ipam\.config\.0\.ip_range/);
  });
  it('rejects unknown parameters and bad names', () => {
    expect(invalid('create_network', { name: 'n1', subnett: '10.0.0.0/24' }).message).toMatch(/unknown parameter "subnett"/);
    expect(invalid('create_network', { name: '../x' }).message).toMatch(/name:/);
  });
  it('accepts a full configuration', () => {
    expect(() => validate('create_network', { name: 'n1', subnet: 'fd00:1::/64', gateway: 'fd00:1::1', enable_ipv6: true, labels: { a: 'b' } })).not.toThrow();
  });
});

describe('other parameter checks', () => {
  it('connect_network checks addresses; remove_volume checks names', () => {
    expect(invalid('connect_network', { network: 'n', container: 'c', ipv4_address: '10.0.0.300' }).message).toMatch(/ipv4_address/);
    expect(invalid('remove_volume', { volume: 'x' }).message).toMatch(/volume: volume names are at least two characters/);
    expect(invalid('remove_volume', { volume: 'a/b' }).message).toMatch(/volume:/);
  });
  it('prune filters are a closed set; volumes take no until', () => {
    expect(invalid('prune_networks', { filters: { labels: 'x' } }).message).toMatch(/unknown parameter "filters.labels"/);
    expect(invalid('prune_networks', { filters: { label: '=x' } }).message).toMatch(/filters\.label/);
    expect(invalid('prune_volumes', { filters: { until: '1h' } }).message).toMatch(/unknown parameter "filters.until"/);
    expect(invalid('prune_networks', { filters: { until: 'yesterday-ish' } }).message).toMatch(/filters\.until/);
  });
  it('system_prune refuses combinations the Engine would get wrong', () => {
    expect(invalid('system_prune', { build_cache: true, filters: { label: 'a=b' } }).message).toMatch(/build_cache: build cache records carry no labels/);
    expect(invalid('system_prune', { volumes: true, filters: { until: '1h' } }).message).toMatch(/filters\.until: volumes cannot be filtered by time/);
    expect(() => validate('system_prune', { filters: { label: 'a=b' }, volumes: true })).not.toThrow();
  });
});

describe('prune filter semantics (as the Engine applies them)', () => {
  const f = (label: string[], labelNot: string[] = []) => ({ label, labelNot });
  it('label: every entry must match, by key or key=value', () => {
    expect(matchesLabelFilters({ a: '1', b: '2' }, f(['a', 'b=2']))).toBe(true);
    expect(matchesLabelFilters({ a: '1' }, f(['a', 'b']))).toBe(false);
    expect(matchesLabelFilters({ a: '1' }, f(['a=2']))).toBe(false);
    expect(matchesLabelFilters({ a: '' }, f(['a=']))).toBe(true);
    expect(matchesLabelFilters(null, f(['a']))).toBe(false);
    expect(matchesLabelFilters(null, f([]))).toBe(true);
  });
  it('label!: kept only when it carries every one of them', () => {
    expect(matchesLabelFilters({ a: '1' }, f([], ['a']))).toBe(false);
    expect(matchesLabelFilters({ a: '1' }, f([], ['a', 'b']))).toBe(true);
    expect(matchesLabelFilters({ a: '1', b: 'x' }, f([], ['a', 'b']))).toBe(false);
    expect(matchesLabelFilters({ a: '1' }, f([], ['a=2']))).toBe(true);
    expect(matchesLabelFilters({}, f([], ['a']))).toBe(true);
  });
  it('until is resolved once to absolute unix seconds', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const r = resolvePruneFilters({ label: 'a=b', 'label!': ['c'], until: '1h' }, now);
    expect(r).toEqual({ label: ['a=b'], labelNot: ['c'], until: now / 1000 - 3600 });
    expect(engineFilters(r)).toEqual({ label: ['a=b'], 'label!': ['c'], until: [(now / 1000 - 3600).toFixed(9)] });
    expect(engineFilters(r, false)).toEqual({ label: ['a=b'], 'label!': ['c'] });
    expect(createdBefore(100, 100)).toBe(true);
    expect(createdBefore(101, 100)).toBe(false);
    expect(createdBefore('2029-12-31T23:00:00.123456789Z', now / 1000 - 1800)).toBe(true);
    expect(createdBefore(500, undefined)).toBe(true);
  });
});

describe('restore records', () => {
  const id = 'ae03098b1240fcbd664bc6d6216364a7b58a83ad85299652001855f28421b74f';
  it('drops the automatic short-id alias only', () => {
    expect(userAliases(['alpha', 'a2', 'ae03098b1240'], id)).toEqual(['alpha', 'a2']);
    expect(userAliases(null, id)).toEqual([]);
  });
  it('records static and dynamic addresses apart', () => {
    const entry = restoreEntry('net1', 'f'.repeat(64), { Aliases: ['beta', 'ae03098b1240'], IPAMConfig: { IPv4Address: '10.77.0.50' }, IPAddress: '10.77.0.50', MacAddress: '02:42:0a:4d:00:32', DriverOpts: {} }, id);
    expect(entry).toMatchObject({ aliases: ['beta'], static_ipv4: '10.77.0.50', ipv4_address: '10.77.0.50', ipv6_address: null, mac_address: '02:42:0a:4d:00:32', driver_opts: null, links: [] });
    const dyn = restoreEntry('net1', 'f'.repeat(64), { IPAMConfig: {}, IPAddress: '10.77.0.2' }, id);
    expect(dyn.static_ipv4).toBeNull();
    expect(dyn.ipv4_address).toBe('10.77.0.2');
    const record = { version: 1, container_id: id, container_name: 'x', networks: [entry, dyn], was_paused: false, paused_by_isolate: true, isolated_at: new Date().toISOString() };
    expect(restoreRecordSchema.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(restoreRecordSchema.safeParse({ ...record, extra: 1 }).success).toBe(false);
    expect(restoreRecordSchema.safeParse({ ...record, container_id: 'abc' }).success).toBe(false);
  });
});

describe('prune planning', () => {
  const none = { label: [], labelNot: [], until: undefined };
  it('containers: only those not running', () => {
    const list = (['created', 'exited', 'dead', 'running', 'paused', 'restarting', 'removing'] as const).map((State, i) => ({ Id: String(i), State, Created: 10 }));
    expect(planContainerPrune(list, none).map((c) => c.State)).toEqual(['created', 'exited', 'dead']);
    expect(planContainerPrune(list, { ...none, until: 5 })).toEqual([]);
  });

  const img = (Id: string, o: Partial<ImageSummary> = {}): ImageSummary => ({ Id, RepoTags: [], RepoDigests: [], Created: 100, Labels: null, ...o });
  it('images, dangling only: untagged leaves, and their untagged childless parents', () => {
    const images = [
      img('base', { RepoTags: ['busybox:latest'] }),
      img('mid', { ParentId: 'base' }),
      img('leaf', { ParentId: 'mid' }),
      img('tagged', { ParentId: 'base', RepoTags: ['app:1'] }),
      img('orphan', { RepoTags: ['<none>:<none>'] }),
      img('digestonly', { RepoDigests: ['r@sha256:1'] }),
      img('used'),
    ];
    expect(planImagePrune(images, new Set(['used']), true, none).map((i) => i.id)).toEqual(['digestonly', 'leaf', 'mid', 'orphan']);
    // The leaf used by a container keeps its untagged parent too.
    expect(planImagePrune(images, new Set(['leaf']), true, none).map((i) => i.id)).toEqual(['digestonly', 'orphan', 'used']);
  });
  it('images, all: every unused image, parents once their children go', () => {
    const images = [img('base', { RepoTags: ['busybox:latest'] }), img('child', { ParentId: 'base', RepoTags: ['app:1'] }), img('other', { RepoTags: ['x:1'] })];
    expect(planImagePrune(images, new Set(), false, none).map((i) => i.id).sort()).toEqual(['base', 'child', 'other']);
    expect(planImagePrune(images, new Set(['child']), false, none).map((i) => i.id)).toEqual(['other']);
    expect(planImagePrune(images, new Set(), false, none).find((i) => i.id === 'child')?.name).toBe('app:1');
  });
  it('images: filters pick the candidates; cascaded parents are not filtered', () => {
    const images = [img('p'), img('c', { ParentId: 'p', Labels: { t: '1' } }), img('q', { Labels: { t: '2' } })];
    expect(planImagePrune(images, new Set(), true, { ...none, label: ['t=1'] }).map((i) => i.id)).toEqual(['c', 'p']);
    expect(planImagePrune(images, new Set(), true, { ...none, until: 50 })).toEqual([]);
  });
  it('build cache: unused records; without all, not shared/internal/frontend', () => {
    const recs = [
      { ID: 'a', Type: 'regular', Description: 'step a', InUse: false, Shared: false, LastUsedAt: '2020-01-01T00:00:00Z' },
      { ID: 'b', Type: 'regular', InUse: true },
      { ID: 'c', Type: 'internal', InUse: false },
      { ID: 'd', Type: 'regular', InUse: false, Shared: true },
      { ID: 'e', Type: 'regular', InUse: false, LastUsedAt: '2030-01-01T00:00:00Z' },
    ];
    expect(planBuildCachePrune(recs, false, undefined).map((r) => r.id)).toEqual(['e', 'a']);
    expect(planBuildCachePrune(recs, true, undefined).map((r) => r.id).sort()).toEqual(['a', 'c', 'd', 'e']);
    expect(planBuildCachePrune(recs, false, Date.parse('2025-01-01T00:00:00Z') / 1000).map((r) => r.id)).toEqual(['a']);
  });
});
