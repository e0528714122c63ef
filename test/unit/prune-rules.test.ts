import { describe, expect, it } from 'vitest';
import { createdBefore, needsExactTime, planContainerPrune, planImagePrune, rfc3339Nanos } from '../../src/operations/shared/prune.js';
import type { ImageSummary } from '../../src/operations/shared/engine-types.js';

const none = { label: [], labelNot: [], until: undefined };

describe('the one `until` rule: the Engine prunes what was created at or before `until` (moby: skip when created.After(until))', () => {
  it('an object created exactly at `until` is pruned; one nanosecond later is kept', () => {
    const until = Date.parse('2030-01-01T00:00:00Z') / 1000;
    expect(createdBefore('2030-01-01T00:00:00Z', until)).toBe(true);
    expect(createdBefore('2030-01-01T00:00:00.000000001Z', until)).toBe(false);
    expect(createdBefore('2029-12-31T23:59:59.999999999Z', until)).toBe(true);
    expect(createdBefore(until, until)).toBe(true);
    expect(createdBefore(until + 1, until)).toBe(false);
  });

  it('keeps the nanoseconds of RFC 3339 times, which Date drops', () => {
    expect(rfc3339Nanos('2030-01-01T00:00:00.123456789Z')).toBe(1_893_456_000_123_456_789n);
    expect(rfc3339Nanos('2030-01-01T01:00:00.5+01:00')).toBe(1_893_456_000_500_000_000n);
    expect(rfc3339Nanos('not a time')).toBeUndefined();
  });

  it('a whole-second list time cannot decide an `until` inside that second: the exact time is asked for', () => {
    expect(needsExactTime(100, 100)).toBe(true);
    expect(needsExactTime(100, 100.5)).toBe(true);
    expect(needsExactTime(100, 100.999999999)).toBe(false);
    expect(needsExactTime(100, 99.999)).toBe(false);
    expect(needsExactTime(100, 101)).toBe(false);
    expect(needsExactTime(100, undefined)).toBe(false);
  });

  it('containers: the exact time decides where the list\'s whole second cannot', () => {
    const list = [{ Id: 'a', State: 'exited' as const, Created: 100 }];
    expect(planContainerPrune(list, { ...none, until: 100 }, new Map([['a', '1970-01-01T00:01:40.25Z']]))).toEqual([]);
    expect(planContainerPrune(list, { ...none, until: 100.5 }, new Map([['a', '1970-01-01T00:01:40.25Z']])).map((c) => c.Id)).toEqual(['a']);
  });
});

describe('image prune simulation (the recursive one: it matches the Engine)', () => {
  const img = (Id: string, o: Partial<ImageSummary> = {}): ImageSummary => ({ Id, RepoTags: [], RepoDigests: [], Created: 100, Labels: null, ...o });
  it('all images: a tagged parent whose child a container uses is only untagged, not deleted', () => {
    // Engines 20.10 and 28 answer `docker image prune -a` on this state with "untagged: p:1" and delete nothing.
    const images = [img('base', { RepoTags: ['busybox:latest'] }), img('p', { ParentId: 'base', RepoTags: ['p:1'] }), img('c', { ParentId: 'p', RepoTags: ['c:1'] })];
    expect(planImagePrune(images, new Set(['c']), false, none)).toEqual([]);
    // Once the child goes too, the untagged parent goes with it.
    expect(planImagePrune(images, new Set(), false, none).map((i) => i.id).sort()).toEqual(['base', 'c', 'p']);
  });
});
