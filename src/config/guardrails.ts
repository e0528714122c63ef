import * as z from 'zod';
import { parseImagePattern } from './image-patterns.js';

/**
 * The `guardrails` setting: which rules refuse what automation may create.
 * The rules themselves are applied in src/engine/guardrails.ts; this file
 * holds their stable names (the contract `allow` lists name) and the
 * setting's schema, so a typo in `allow` is a configuration error.
 */
export const GUARDRAIL_RULES = {
  privileged: 'create_container with HostConfig.Privileged',
  privileged_exec: 'exec_container with privileged: true',
  host_pid: 'PidMode "host" (the host\'s processes)',
  host_ipc: 'IpcMode "host"',
  host_uts: 'UTSMode "host"',
  host_userns: 'UsernsMode "host" (no user-namespace remapping)',
  host_network: 'NetworkMode "host"',
  capabilities: 'CapAdd (or Capabilities) with ALL, SYS_ADMIN, SYS_PTRACE, SYS_MODULE, NET_ADMIN, DAC_READ_SEARCH, SYS_RAWIO, BPF or PERFMON',
  devices: 'Devices, DeviceRequests (GPUs) or DeviceCgroupRules',
  seccomp_unconfined: 'SecurityOpt seccomp=unconfined, or a seccomp profile whose default action allows',
  apparmor_unconfined: 'SecurityOpt apparmor=unconfined',
  label_disable: 'SecurityOpt label=disable (or the unconfined SELinux types spc_t / unconfined_t)',
  systempaths_unconfined: 'SecurityOpt systempaths=unconfined, or MaskedPaths / ReadonlyPaths given (they replace the Engine\'s protections of /proc and /sys)',
  docker_socket: 'a bind mount (or volume device) whose source ends in docker.sock',
  host_paths: 'a bind mount (or volume device) of /, or of /etc, /proc, /sys, /dev, /root, /boot, /var/lib/docker, /run (/var/run), a path inside one or a folder holding one',
  allowed_images: 'with allowed_images set: create_container or pull_image of an image no entry allows (not relaxable: edit the list)',
} as const;

export type GuardrailRule = keyof typeof GUARDRAIL_RULES;
export const GUARDRAIL_RULE_NAMES = Object.keys(GUARDRAIL_RULES) as GuardrailRule[];
const RELAXABLE = GUARDRAIL_RULE_NAMES.filter((r) => r !== 'allowed_images');

/** The setting as written: true/false, the relaxations, or (env variable, flag) its text. */
export type GuardrailsSettingInput = boolean | string | { allow?: string[]; allowed_images?: string[] };
/** The setting once parsed: on/off, or on with relaxations and an image list. */
export type GuardrailsSetting = boolean | { allow: GuardrailRule[]; allowed_images?: string[] };

const objectForm = z
  .object({
    allow: z
      .array(
        z.string().refine((r) => (RELAXABLE as string[]).includes(r), {
          error: (iss) =>
            iss.input === 'allowed_images'
              ? '"allowed_images" cannot be relaxed: edit or remove the allowed_images list instead'
              : `unknown rule "${String(iss.input)}"; the rules are ${RELAXABLE.join(', ')}`,
        }),
      )
      .default([])
      .describe('Rules to relax by name; every other rule still applies'),
    allowed_images: z
      .array(z.string())
      .superRefine((list, ctx) => {
        list.forEach((entry, i) => {
          const parsed = parseImagePattern(entry);
          if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [i], message: parsed });
        });
      })
      .optional()
      .describe('Only these images may be created or pulled: repository patterns ("nginx", "registry.example.com/team/*") or digests ("sha256:…", "repo@sha256:…")'),
  })
  .strict();

// The accepted input as JSON Schema, for the manifest: written out, since the hand parser below has none of its own.
const PUBLISHED_SHAPE = {
  anyOf: [
    { type: 'boolean' },
    {
      type: 'object',
      properties: {
        allow: { type: 'array', items: { type: 'string', enum: RELAXABLE } },
        allowed_images: { type: 'array', items: { type: 'string' } },
      },
      additionalProperties: false,
    },
    { type: 'string', description: 'true/false, or the object as JSON text (env variable, flag)' },
  ],
};

function fromText(text: string): unknown {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  if (text.trim().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Parsed by hand rather than as a zod union, whose error would only say
 * "Invalid input": a bad rule name must be named (guardrails.allow.0: unknown rule "x").
 */
export const guardrailsSetting = z
  .custom<GuardrailsSettingInput>(() => true)
  .transform((value, ctx): GuardrailsSetting => {
    const v = typeof value === 'string' ? fromText(value) : value;
    if (typeof v === 'boolean') return v;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: 'expected true, false, or {"allow": [rule names], "allowed_images": [patterns]} (as JSON text in an env variable or a flag)' });
      return z.NEVER;
    }
    const parsed = objectForm.safeParse(v);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message });
      }
      return z.NEVER;
    }
    return { allow: parsed.data.allow as GuardrailRule[], ...(parsed.data.allowed_images ? { allowed_images: parsed.data.allowed_images } : {}) };
  })
  .meta(PUBLISHED_SHAPE);

/** The config field (schema.ts): optional, described for the CLI's help and the manifest. */
export const guardrailsField = guardrailsSetting
  .optional()
  .describe(
    `Refuse, before anything is sent, containers that could take over the host and images outside allowed_images. Default: on for the HTTP service and the MCP server, off for the library and CLI; true turns it on, {"allow": [rules]} relaxes rules (and turns it on). Rules: ${GUARDRAIL_RULE_NAMES.join(', ')}`,
  );
