import * as z from 'zod';
import { defineOperation } from './define.js';
import { systemVersion, type SystemVersion } from './shared/schemas/system-version.js';

const noParams = z.object({}).strict();

export const ping = defineOperation({
  name: 'ping',
  category: 'system',
  title: 'Ping the Engine',
  description: 'Checks that the Engine answers. Reports its newest API version and OS type.',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: '{ok: true, api_version, engine_api_version, os_type, experimental, builder_version}',
  resultSchema: z.strictObject({
    ok: z.literal(true).describe('The Engine answered'),
    api_version: z.string().describe('The API version calls go out with (negotiated or pinned)'),
    engine_api_version: z.string().nullable().describe("The Engine's newest API version (its API-Version header); null when it sends none"),
    os_type: z.string().nullable().describe('The Engine\'s OS type, e.g. "linux"; null when it sends none'),
    experimental: z.boolean().describe('Experimental features are on'),
    builder_version: z.string().nullable().describe('The default builder ("1" classic, "2" BuildKit); null when the Engine does not say'),
  }),
  async run(ctx) {
    const info = await ctx.ping();
    return {
      ok: true as const,
      api_version: ctx.apiVersion,
      engine_api_version: info.apiVersion ?? null,
      os_type: info.osType ?? null,
      experimental: info.experimental,
      builder_version: info.builderVersion ?? null,
    };
  },
});

export const getVersion = defineOperation({
  name: 'get_version',
  category: 'system',
  title: 'Engine version',
  description: 'The Engine version, API version range, Go version, OS, architecture and components (GET /version).',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: "The Engine's version object: Version, ApiVersion, MinAPIVersion, Os, Arch, KernelVersion, Components …",
  resultSchema: systemVersion,
  async run(ctx) {
    const res = await ctx.json<SystemVersion>({ method: 'GET', path: '/version' });
    return res.body;
  },
});

const healthResult = z.strictObject({
  reachable: z.boolean().describe('The Engine answered'),
  endpoint: z.string().nullable().describe('The Engine address the connector uses (no credentials); null when unreachable'),
  endpoint_source: z.string().nullable().describe('How that address was chosen: a setting, a docker context, a discovered socket or the default; null when unreachable'),
  api_version: z.string().nullable().describe('The API version calls go out with; null when unreachable'),
  engine_api_version: z.string().nullable().describe("The Engine's newest API version; null when unreachable or not sent"),
  engine_version: z.string().nullable().describe('The Engine version, e.g. "28.5.2"; null when unreachable or not sent'),
  latency_ms: z.number().min(0).nullable().describe('Round trip of a ping, milliseconds; null when unreachable'),
  error: z
    .strictObject({
      code: z.string().describe('Error code, e.g. "ENGINE_UNREACHABLE"'),
      message: z.string().describe('What went wrong'),
    })
    .optional()
    .describe('Only when unreachable: why'),
});
export type HealthResult = z.output<typeof healthResult>;

export const health = defineOperation({
  name: 'health',
  category: 'system',
  title: 'Connector health',
  description: 'Whether the Engine is reachable, the API version in use, the Engine version and the round-trip latency. Never changes anything and never fails: an unreachable Engine is reported in the result.',
  params: noParams,
  safety: 'read',
  idempotent: true,
  result: '{reachable, endpoint, endpoint_source, api_version, engine_api_version, engine_version, latency_ms, error?}',
  resultSchema: healthResult,
  async run(ctx) {
    // The connector calls this with a context whose version may be unknown; see Connector.health().
    const started = performance.now();
    const info = await ctx.ping();
    const latency = performance.now() - started;
    const version = await ctx.json<{ Version?: string }>({ method: 'GET', path: '/version' });
    return {
      reachable: true,
      endpoint: ctx.endpoint.address,
      endpoint_source: ctx.endpoint.source ?? null,
      api_version: ctx.apiVersion,
      engine_api_version: info.apiVersion ?? null,
      engine_version: version.body?.Version ?? null,
      latency_ms: Math.round(latency * 100) / 100,
    };
  },
  resultOnError(err) {
    return { reachable: false, endpoint: null, endpoint_source: null, api_version: null, engine_api_version: null, engine_version: null, latency_ms: null, error: { code: err.code, message: err.message } };
  },
});

export const systemOperations = [ping, getVersion, health] as const;
