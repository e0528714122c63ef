import * as z from 'zod';
import { parseSurfaceSection } from '../surfaces/section.js';
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
  })
  .strict();

export type McpSettings = z.output<typeof mcpSectionSchema>;

export interface McpFlagOverrides {
  allow_write?: boolean;
  allow_destructive?: boolean;
  confirm_destructive?: boolean;
  max_output_bytes?: number;
  local_files?: boolean;
}

export function parseMcpSettings(section: unknown, overrides: McpFlagOverrides = {}): McpSettings {
  return parseSurfaceSection('mcp', mcpSectionSchema, section, overrides);
}
