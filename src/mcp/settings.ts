import * as z from 'zod';
import { listenerFields } from '../access/listener.js';
import { parseSurfaceSection } from '../access/section.js';
import { DEFAULT_MAX_OUTPUT_BYTES } from './output.js';

/**
 * The `mcp` section of the config file; command-line flags override it.
 * The transport is chosen on the command line only (--listen), so one
 * config file serves both a stdio client and an HTTP deployment.
 */
export const mcpSectionSchema = z
  .object({
    allow_write: z.boolean().default(false).describe('Offer write operations as well as read ones'),
    allow_destructive: z.boolean().default(false).describe('Offer destructive operations too (implies allow_write)'),
    confirm_destructive: z.boolean().default(false).describe('A destructive call runs only after a dry run of the same call in the same session'),
    max_output_bytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(DEFAULT_MAX_OUTPUT_BYTES)
      .describe('Largest result (bytes of JSON) returned into the conversation; larger results are cut with a note'),
    local_files: z
      .boolean()
      .optional()
      .describe("Let callers name files on the server's host (log/export destinations, build contexts); default: on for stdio, off for HTTP"),
    body_limit: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('HTTP transport: largest request body in bytes'),
    session_idle_timeout: z.number().positive().max(86_400).default(1800).describe('HTTP transport: seconds after which an idle session is closed'),
    max_sessions: z.number().int().min(1).max(10_000).default(100).describe('HTTP transport: sessions open at once; a new one beyond this is refused'),
    // The same limits and host check as the HTTP service (src/access/listener.ts).
    rate_limit: listenerFields.rate_limit.describe('HTTP transport: requests per minute per API key; 0 turns the limit off'),
    rate_limit_burst: listenerFields.rate_limit_burst.describe('HTTP transport: requests a key may send at once before the rate applies'),
    auth_failures_per_minute: listenerFields.auth_failures_per_minute.describe(
      'HTTP transport: failed authentications (wrong API keys) a client address may make per minute before it is refused with 429; 0 turns the limit off',
    ),
    allowed_hosts: listenerFields.allowed_hosts.describe(
      'HTTP transport: host names (or IPs) clients use to reach the server, besides loopback names and the listen address; other Hosts, and browser calls from other Origins, are refused',
    ),
  })
  .strict();

export type McpSettings = z.output<typeof mcpSectionSchema>;

export interface McpFlagOverrides {
  allow_write?: boolean;
  allow_destructive?: boolean;
  confirm_destructive?: boolean;
  max_output_bytes?: number;
  local_files?: boolean;
  allowed_hosts?: string[];
}

export function parseMcpSettings(section: unknown, overrides: McpFlagOverrides = {}): McpSettings {
  return parseSurfaceSection('mcp', mcpSectionSchema, section, overrides);
}
