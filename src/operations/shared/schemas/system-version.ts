import * as z from 'zod';

/**
 * GET /version, apart from the other system objects: `ping`, `get_version` and `health`
 * load only this (the CLI's quickest calls build no container or image schema).
 */

/* ---------------- GET /version ---------------- */

export const systemVersion = z.object({
  Platform: z.object({ Name: z.string().describe('Platform name (may be empty)') }).optional().describe('The platform'),
  Components: z
    .array(
      z.object({
        Name: z.string().describe('Component name: "Engine", "containerd", "runc", "docker-init", …'),
        Version: z.string().describe('Its version'),
        Details: z.record(z.string(), z.unknown()).nullable().optional().describe('Component-specific details (free-form)'),
      }),
    )
    .nullable()
    .optional()
    .describe('The Engine and the components it runs on, with their versions'),
  Version: z.string().describe('Engine version, e.g. "28.5.2"'),
  ApiVersion: z.string().describe('Newest API version the Engine speaks'),
  MinAPIVersion: z.string().describe('Oldest API version the Engine accepts'),
  GitCommit: z.string().describe('Commit the Engine was built from'),
  GoVersion: z.string().describe('Go version it was built with'),
  Os: z.string().describe('Operating system, e.g. "linux"'),
  Arch: z.string().describe('Architecture, e.g. "amd64"'),
  KernelVersion: z.string().optional().describe("The host's kernel version"),
  Experimental: z.boolean().optional().describe('Experimental features are on (left out when off)'),
  BuildTime: z.string().optional().describe('When the Engine was built'),
});
export type SystemVersion = z.output<typeof systemVersion>;
