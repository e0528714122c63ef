import * as z from 'zod';

/**
 * Settings every listener has (the `service` section for the HTTP service,
 * the `mcp` section for the MCP server over HTTP), declared once so both
 * sections read and default them alike.
 */
export const listenerFields = {
  allowed_hosts: z
    .array(z.string().min(1).max(253))
    .max(100)
    .default([])
    .describe(
      'Host names (or IPs) clients use to reach the listener, besides loopback names and the listen address; requests naming another Host, and browser calls from another Origin, are refused (DNS-rebinding protection)',
    ),
  auth_failures_per_minute: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(30)
    .describe('Failed authentications (wrong API keys) a client address may make per minute before it is refused with 429; 0 turns the limit off'),
  rate_limit: z.number().min(0).max(1_000_000).default(600).describe('Requests per minute per API key; 0 turns the limit off'),
  rate_limit_burst: z.number().int().min(1).max(100_000).default(60).describe('Requests a key may send at once before the rate applies'),
};
