import * as z from 'zod';
import { toStreamError } from '../engine/json-stream.js';
import { readLines } from '../engine/line-reader.js';
import { normalizeFilters } from '../engine/path.js';
import { defineOperation } from './define.js';
import { engineFilters, oneOrMany, timePointParam, toUnixSeconds } from './shared/params.js';
import { eventMessage, systemDf as systemDfSchema, systemInfo, type EventMessage, type SystemDf, type SystemInfo } from './shared/schemas/system.js';
import { slowCallTimeoutMs } from './shared/timeouts.js';

/*
 * What the Engine reports about itself and its host: info, disk usage, events.
 * A family apart from ping / get_version / health, whose results are small.
 */

const noParams = z.object({}).strict();

/** GET /events filters. */
const eventFilters = engineFilters({
  type: oneOrMany(z.enum(['container', 'image', 'volume', 'network', 'daemon', 'plugin', 'node', 'service', 'secret', 'config', 'builder'])).describe('Object type'),
  event: oneOrMany(z.string()).describe('Event action, e.g. "start", "die"'),
  container: oneOrMany(z.string()).describe('Container id or name'),
  image: oneOrMany(z.string()).describe('Image reference or id'),
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  network: oneOrMany(z.string()).describe('Network id or name'),
  volume: oneOrMany(z.string()).describe('Volume name'),
  daemon: oneOrMany(z.string()).describe('Engine id or name'),
  plugin: oneOrMany(z.string()).describe('Plugin id or name'),
  scope: oneOrMany(z.enum(['local', 'swarm'])).describe('Event scope'),
});

export const getInfo = defineOperation({
  name: 'get_info',
  category: 'system',
  title: 'Engine information',
  description: 'System-wide information: containers and images counts, storage driver, plugins, security options, resources (GET /info).',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: "The Engine's info object (ID, Containers, Images, Driver, MemTotal, NCPU, ServerVersion, …)",
  resultSchema: systemInfo,
  async run(ctx) {
    const res = await ctx.json<SystemInfo>({ method: 'GET', path: '/info' });
    return res.body;
  },
});

export const systemDf = defineOperation({
  name: 'system_df',
  category: 'system',
  title: 'Disk usage',
  description: 'Disk space used by images, containers, volumes and build cache (GET /system/df). The shape follows the API version in use.',
  params: z
    .object({
      types: z
        .array(z.enum(['container', 'image', 'volume', 'build-cache']))
        .optional()
        .describe('Only these object types (API 1.42+; ignored on older Engines)'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{LayersSize, Images, Containers, Volumes, BuildCache} as the Engine reports them',
  resultSchema: systemDfSchema,
  async run(ctx, params) {
    const query = params.types && ctx.atLeast('1.42') ? { type: params.types } : undefined;
    const res = await ctx.json<SystemDf>({ method: 'GET', path: '/system/df', query, timeoutMs: slowCallTimeoutMs(ctx, 120) });
    return res.body;
  },
});

const MAX_EVENTS_DEFAULT = 1000;

/** How long Podman's event stream is read past `until` for the past events to arrive (seconds). */
const PODMAN_EVENTS_SETTLE = 1;

/** An event's time in (fractional) unix seconds. */
function eventSeconds(e: EventMessage): number {
  return typeof e.timeNano === 'number' ? e.timeNano / 1e9 : (e.time ?? 0);
}

/** Longest a snapshot waits for a future `until` (seconds). */
const MAX_WAIT_AHEAD = 300;

export const systemEvents = defineOperation({
  name: 'system_events',
  category: 'system',
  title: 'Engine events (snapshot)',
  description:
    'Events between `since` and `until` (default: the last 10 minutes up to now). Always returns: a future `until` waits at most until then, and the snapshot stops at `max_events`.',
  params: z
    .object({
      since: timePointParam.optional().describe('Start: "10m" (ten minutes ago), unix seconds or RFC 3339; default 10m'),
      until: timePointParam.optional().describe('End: same forms; default now. A future time waits until then, at most 300 s: a later one is capped (the result\'s `until` says where the snapshot ends). A `since` after `until` gives no events.'),
      filters: eventFilters.optional().describe('Event filters: type, event, container, image, label, network, volume, daemon, scope'),
      max_events: z.number().int().min(1).max(100_000).default(MAX_EVENTS_DEFAULT).describe('Stop after this many events'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{events: [...the Engine\'s event objects], count, truncated, since, until} (times in unix seconds)',
  resultSchema: z.strictObject({
    events: z.array(eventMessage).describe("The Engine's events in the window, oldest first"),
    count: z.number().int().min(0).describe('How many events'),
    truncated: z.boolean().describe('The snapshot stopped at max_events: later events in the window are left out'),
    since: z.number().describe('Start of the window, unix seconds'),
    until: z.number().describe('End of the window, unix seconds (a future until is capped at 300 s ahead)'),
  }),
  async run(ctx, params) {
    const now = Date.now();
    // Neither rule below can be stated in the published schema (they relate two times, or a time and now),
    // so neither refuses the call: a later `until` is capped (the result says where the snapshot ends),
    // and an empty window has no events.
    const until = Math.min(params.until === undefined ? now / 1000 : toUnixSeconds(params.until, now)!, now / 1000 + MAX_WAIT_AHEAD);
    const since = params.since === undefined ? until - 600 : toUnixSeconds(params.since, now)!;
    if (since > until) return { events: [], count: 0, truncated: false, since, until };
    const ahead = until - now / 1000;
    // Podman 4 answers nothing at all when given `until`: there the stream is read without it, and
    // closed once `until` has passed and the past events have had time to arrive.
    const podman = (await ctx.ping()).libpodVersion !== undefined;
    const res = await ctx.stream({
      method: 'GET',
      path: '/events',
      query: { since: since.toFixed(9), until: podman ? undefined : until.toFixed(9), filters: normalizeFilters(params.filters) },
      // The Engine closes the stream at `until`; allow that long plus a margin of silence.
      idleTimeoutMs: (Math.max(0, ahead) + ctx.config.timeout) * 1000,
    });
    const events: EventMessage[] = [];
    let truncated = false;
    let closedAtUntil = false;
    const closer = podman
      ? setTimeout(() => {
          closedAtUntil = true;
          res.body.destroy();
        }, (Math.max(0, ahead) + PODMAN_EVENTS_SETTLE) * 1000)
      : undefined;
    try {
      // The engine's line reader: one line splitter, with its line cap, for every newline-delimited stream.
      for await (const raw of readLines(res.body, { operation: ctx.operation })) {
        const line = raw.trim();
        if (!line) continue;
        const event = JSON.parse(line) as EventMessage;
        if (podman && eventSeconds(event) > until) break;
        events.push(event);
        if (events.length >= params.max_events) {
          truncated = true;
          break;
        }
      }
    } catch (err) {
      if (!closedAtUntil) throw toStreamError(err, ctx.operation);
    } finally {
      clearTimeout(closer);
      res.body.destroy();
    }
    return { events, count: events.length, truncated, since, until };
  },
});

export const systemInfoOperations = [getInfo, systemDf, systemEvents] as const;
