import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { networkOperations } from '../../src/operations/networks.js';
import { resultSchema } from '../../src/operations/parameter-schema.js';
import { systemOperations } from '../../src/operations/system.js';
import { systemInfoOperations } from '../../src/operations/system-info.js';
import { systemPruneOperations } from '../../src/operations/system-prune.js';
import { volumeOperations } from '../../src/operations/volumes.js';

/*
 * The published result schemas of the system, network and volume families
 * against answers shaped as Engines 20.10 and 28.x really give them (nulls
 * for empty maps and lists, nanosecond times beyond 2^53), and against
 * results they must refuse. The integration suite validates live results;
 * this pins the Engine forms that a given harness state may not produce.
 */
const ajv = new Ajv2020({ strict: true, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const ops = new Map([...systemOperations, ...systemInfoOperations, ...systemPruneOperations, ...networkOperations, ...volumeOperations].map((o) => [o.name as string, o]));
const valid = (op: string, value: unknown) => ajv.validate(resultSchema(ops.get(op)!), value);

const network = {
  Name: 'n',
  Id: 'f'.repeat(64),
  Created: '2026-12-06T22:46:51.950891006Z',
  Scope: 'local',
  Driver: 'null',
  EnableIPv6: false,
  IPAM: { Driver: 'default', Options: null, Config: null },
  Internal: false,
  Attachable: false,
  Ingress: false,
  ConfigFrom: { Network: '' },
  ConfigOnly: false,
  Containers: {},
  Options: {},
  Labels: {},
};
const volume = { CreatedAt: '2026-12-06T22:46:52Z', Driver: 'local', Labels: null, Mountpoint: '/var/lib/docker/volumes/v/_data', Name: 'v', Options: null, Scope: 'local' };

describe('result schemas of system, networks and volumes', () => {
  it('accept the null forms of both Engines', () => {
    expect(valid('inspect_network', network)).toBe(true); // 28.x: IPAM.Config null
    expect(valid('inspect_network', { ...network, EnableIPv4: true, IPAM: { Driver: 'default', Options: {}, Config: [] } })).toBe(true); // 20.10: []
    expect(valid('list_networks', [network, { ...network, Containers: undefined }])).toBe(true);
    expect(valid('inspect_volume', volume)).toBe(true);
    expect(valid('list_volumes', { volumes: [volume, { ...volume, UsageData: { Size: -1, RefCount: -1 } }], warnings: [] })).toBe(true);
    expect(valid('system_df', { LayersSize: 0, Images: null, Containers: null, Volumes: [volume], BuildCache: null })).toBe(true);
  });

  it('accept event times in nanoseconds, beyond 2^53', () => {
    const event = { Type: 'image', Action: 'tag', Actor: { ID: 'sha256:x', Attributes: { name: 'a:b' } }, scope: 'local', time: 1796596913, timeNano: 1796596913291716434 };
    expect(valid('system_events', { events: [event, { ...event, status: 'tag', id: 'sha256:x' }], count: 2, truncated: false, since: 1796596300.5, until: 1796596913.25 })).toBe(true);
  });

  it('refuse what the Engine never sends and what the connector never makes', () => {
    expect(valid('inspect_network', { ...network, Labels: { a: 1 } })).toBe(false);
    expect(valid('inspect_network', { ...network, Containers: { abc: { Name: 'c' } } })).toBe(false);
    expect(valid('inspect_volume', { ...volume, Name: undefined })).toBe(false);
    expect(valid('prune_volumes', { deleted: [{ name: 'a', id: 'x' }], space_reclaimed: 0, dry_run: false })).toBe(false);
    expect(valid('prune_networks', { deleted: [{ id: null, name: 'a' }], dry_run: false, space_reclaimed: 0 })).toBe(false);
    expect(valid('remove_network', { deleted: [{ id: null, name: 'a' }], dry_run: true })).toBe(false);
    const prune = { dry_run: true, containers: { deleted: [], space_reclaimed: null }, networks: { deleted: [] }, volumes: null, images: { deleted: [], space_reclaimed: null }, build_cache: null, skipped: [], space_reclaimed: null };
    expect(valid('system_prune', prune)).toBe(true);
    expect(valid('system_prune', { ...prune, volumes: undefined })).toBe(false);
  });

  it('give health one shape for a reachable and an unreachable Engine', () => {
    const ok = { reachable: true, endpoint: 'unix:///var/run/docker.sock', endpoint_source: 'default', api_version: '1.51', engine_api_version: '1.51', engine_version: '28.5.2', latency_ms: 1.25 };
    const down = { reachable: false, endpoint: null, endpoint_source: null, api_version: null, engine_api_version: null, engine_version: null, latency_ms: null, error: { code: 'CONNECTION_FAILED', message: 'connect ENOENT' } };
    expect(valid('health', ok)).toBe(true);
    expect(valid('health', down)).toBe(true);
    expect(valid('health', { ...down, error: { code: 'X' } })).toBe(false);
  });
});
