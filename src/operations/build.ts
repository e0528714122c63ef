/** build_image: the classic builder, with the context streamed as a tar. */
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { readProgress, type ProgressMessage } from '../engine/json-stream.js';
import { encodeRegistryConfig, type RegistryCredentials } from '../engine/registry-auth.js';
import { packDirectory, packFiles } from '../files/build-context.js';
import { defineOperation, type OperationContext } from './define.js';
import { inspectImageOrNull, platformParam, taggedName } from './shared/image-refs.js';
import { checkLocalPath, localPathParam } from './shared/local-files.js';
import { invalidParam, registryCredentialsParam } from './shared/params.js';
import { dockerConfigRegistryMap, registryCall } from './shared/registry-access.js';
import { slowCallTimeoutMs } from './shared/timeouts.js';

const authParam = registryCredentialsParam;

const BUILD_LOG_CAP = 64 * 1024;
const STEP_OUTPUT_CAP = 4 * 1024;

/** A file name inside the build context: relative, "/"-separated, no "..". */
const contextFileName = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.startsWith('/') && !s.includes('\0') && !s.includes('\\') && s.split('/').every((seg) => seg !== '..' && seg !== ''), 'must be a relative path inside the context (no "..", no leading "/")');

const buildParams = z
  .object({
    dockerfile: z.string().min(1).max(1_000_000).optional().describe('Dockerfile text (inline). Alone or with `files` it is the whole context; with `context` it replaces the directory\'s Dockerfile'),
    files: z.record(contextFileName, z.string().max(10_000_000)).optional().describe('Inline context files, path → text content (with an inline `dockerfile`)'),
    context: localPathParam.optional().describe('Local directory to send as the context; its .dockerignore is honoured'),
    context_tar: localPathParam.optional().describe('Local tar file to send as the context'),
    remote: z
      .string()
      .max(2048)
      .regex(/^(https?:\/\/|git@|git:\/\/|github\.com\/)/, 'expected an http(s) or git URL')
      .optional()
      .describe('A Git repository or tarball URL the Engine fetches the context from'),
    dockerfile_path: contextFileName.optional().describe('Path of the Dockerfile inside the context (default "Dockerfile")'),
    tags: z.array(taggedName).max(32).default([]).describe('Names to tag the result with, e.g. ["app:1.0", "app:latest"]'),
    build_args: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'build arg names are letters, digits and "_"'), z.string())
      .optional()
      .describe('ARG values. They end up in the image history: never pass secrets here'),
    labels: z.record(z.string().min(1).max(512), z.string()).optional().describe('Labels to set on the image'),
    target: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a build stage name').optional().describe('Build stage to stop at'),
    no_cache: z.boolean().default(false).describe('Do not use the build cache'),
    pull: z.boolean().default(false).describe('Always try to pull newer base images'),
    platform: platformParam.optional(),
    auth: authParam.optional().describe('Credentials for pulling private base images (needs serveraddress); default: the configured ones'),
  })
  .strict()
  .superRefine((p, issue) => {
    const sources = (['context', 'context_tar', 'remote'] as const).filter((k) => p[k] !== undefined);
    if (sources.length > 1) issue.addIssue({ code: 'custom', path: [sources[1]!], message: `give only one of context, context_tar, remote (also got ${sources[0]})` });
    if (sources.length === 0 && p.dockerfile === undefined && p.files === undefined)
      issue.addIssue({ code: 'custom', path: ['dockerfile'], message: 'give a Dockerfile (inline `dockerfile` or `files`), a `context` directory, a `context_tar` or a `remote`' });
    if (p.files !== undefined && sources.length > 0) issue.addIssue({ code: 'custom', path: ['files'], message: 'inline files only go with an inline context (no context, context_tar or remote)' });
    if (p.dockerfile !== undefined && (p.context_tar !== undefined || p.remote !== undefined))
      issue.addIssue({ code: 'custom', path: ['dockerfile'], message: 'an inline Dockerfile goes with `files` or a `context` directory, not with context_tar or remote' });
    if (p.dockerfile !== undefined && p.dockerfile_path !== undefined) issue.addIssue({ code: 'custom', path: ['dockerfile_path'], message: 'not with an inline `dockerfile`' });
    if (p.dockerfile !== undefined && p.files?.Dockerfile !== undefined) issue.addIssue({ code: 'custom', path: ['files'], message: '"Dockerfile" is given inline by `dockerfile`; do not repeat it in files' });
    if (p.dockerfile === undefined && p.files !== undefined && p.files[p.dockerfile_path ?? 'Dockerfile'] === undefined)
      issue.addIssue({ code: 'custom', path: ['files'], message: `no ${p.dockerfile_path ?? 'Dockerfile'} among the files; give \`dockerfile\` or include it` });
    if (p.remote !== undefined && /^[a-z+]+:\/\/[^/]*@/i.test(p.remote)) issue.addIssue({ code: 'custom', path: ['remote'], message: 'credentials do not go in URLs' });
  });

type BuildParams = z.output<typeof buildParams>;

/** The context body and the Dockerfile path to tell the Engine. */
async function buildContext(ctx: OperationContext, p: BuildParams): Promise<{ body?: Readable; dockerfile?: string }> {
  if (p.remote !== undefined) return { dockerfile: p.dockerfile_path };
  if (p.context_tar !== undefined) {
    const full = await checkLocalPath(ctx, 'context_tar', p.context_tar, 'file');
    return { body: createReadStream(full), dockerfile: p.dockerfile_path };
  }
  if (p.context !== undefined) {
    const dir = await checkLocalPath(ctx, 'context', p.context, 'dir');
    if (p.dockerfile !== undefined) {
      // Like `docker build -f - dir`: the inline Dockerfile travels under a name no directory uses.
      const name = `.dockerconnector-Dockerfile-${randomBytes(6).toString('hex')}`;
      return { body: packDirectory(dir, { dockerfile: name, extra: { [name]: p.dockerfile } }), dockerfile: name };
    }
    const dockerfile = p.dockerfile_path ?? 'Dockerfile';
    await checkLocalPath(ctx, 'dockerfile_path', posix.join(dir, dockerfile), 'file');
    return { body: packDirectory(dir, { dockerfile }), dockerfile: p.dockerfile_path };
  }
  const files: Record<string, string> = { ...(p.files ?? {}) };
  if (p.dockerfile !== undefined) files.Dockerfile = p.dockerfile;
  return { body: packFiles(files), dockerfile: p.dockerfile === undefined ? p.dockerfile_path : undefined };
}

/**
 * X-Registry-Config for base-image pulls: a map keyed by registry address. The call's `auth`, else
 * the configured credentials, else every login of the docker CLI's config.json, as `docker build`
 * sends them (a base image may come from any registry). `secrets` are scrubbed from any error.
 */
async function registryConfig(ctx: OperationContext, p: BuildParams): Promise<{ header: string | undefined; secrets: RegistryCredentials[] }> {
  const c = ctx.config;
  const creds: RegistryCredentials | undefined = p.auth ?? (c.registry_server && (c.registry_username || c.registry_identity_token) ? { username: c.registry_username, password: c.registry_password, identitytoken: c.registry_identity_token, serveraddress: c.registry_server } : undefined);
  if (creds) {
    if (!creds.serveraddress) throw invalidParam(ctx, 'auth.serveraddress', 'build needs the registry address the credentials are for');
    return { header: encodeRegistryConfig({ [creds.serveraddress]: creds }), secrets: [creds] };
  }
  const map = await dockerConfigRegistryMap(ctx);
  return Object.keys(map).length ? { header: encodeRegistryConfig(map), secrets: Object.values(map) } : { header: undefined, secrets: [] };
}

/** Keeps the tail of the build log within a cap. */
class LogTail {
  text = '';
  truncated = false;
  constructor(private readonly cap: number) {}
  add(s: string): void {
    this.text += s;
    if (this.text.length > this.cap * 2) this.trim();
  }
  trim(): string {
    if (this.text.length > this.cap) {
      this.text = this.text.slice(this.text.length - this.cap);
      this.truncated = true;
    }
    return this.text;
  }
}

export const buildImage = defineOperation({
  name: 'build_image',
  localPaths: ['context', 'context_tar'],
  category: 'images',
  title: 'Build an image',
  description:
    'Builds an image with the classic builder (POST /build?version=1). The context is one of: an inline `dockerfile` (plus optional `files`), a local `context` directory (honouring .dockerignore), a local `context_tar`, or a `remote` URL. The context is streamed as a tar. A failing step fails the call with that step\'s message and output.',
  params: buildParams,
  safety: 'write',
  // A rebuild can differ (RUN steps see the network, no_cache) and re-points tags.
  idempotent: false,
  streaming: true,
  result: '{id, tags, log, log_truncated}: the image id, the tags applied, and the build output (the last 64 KiB; the full log goes to progress)',
  resultSchema: z.strictObject({
    id: z.string().describe('Id of the image built, "sha256:…"'),
    tags: z.array(z.string()).describe('The names it was tagged with (the `tags` asked for)'),
    log: z.string().describe('The build output, its last 64 KiB'),
    log_truncated: z.boolean().describe('The start of the output was cut off (the full log went to progress)'),
  }),
  async run(ctx, p) {
    const headers: Record<string, string> = { 'content-type': 'application/x-tar' };
    const config = await registryConfig(ctx, p);
    if (config.header) headers['x-registry-config'] = config.header;
    // Last of the checks: from here on the context is being read.
    const { body, dockerfile } = await buildContext(ctx, p);
    const query = {
      version: '1', // the classic builder: BuildKit over the API needs a session the connector does not run
      t: p.tags.length ? p.tags : undefined,
      dockerfile,
      remote: p.remote,
      buildargs: p.build_args,
      labels: p.labels,
      target: p.target,
      nocache: p.no_cache || undefined,
      pull: p.pull || undefined,
      platform: p.platform,
      rm: true,
      forcerm: true, // no intermediate containers left behind after a failed step
    };
    const log = new LogTail(BUILD_LOG_CAP);
    let step = '';
    let stepOutput = new LogTail(STEP_OUTPUT_CAP);
    const onMessage = (m: ProgressMessage) => {
      ctx.progress({ kind: 'message', message: m });
      if (typeof m.stream !== 'string') return;
      log.add(m.stream);
      // Remember which step ran last, only to say where a failure happened.
      const stepLine = /^Step \d+\/\d+ : .*/.exec(m.stream);
      if (stepLine) {
        step = stepLine[0].trim();
        stepOutput = new LogTail(STEP_OUTPUT_CAP);
      } else stepOutput.add(m.stream);
    };
    try {
      return await registryCall(config.secrets, async () => {
        const res = await ctx.stream({
          method: 'POST',
          path: '/build',
          query,
          headers,
          body,
          // A RUN step may print nothing for minutes.
          idleTimeoutMs: slowCallTimeoutMs(ctx),
        });
        const progress = await readProgress(res.body, { operation: ctx.operation, onMessage, keep: 1 });
        const idAux = progress.aux.find((a) => typeof a === 'object' && a !== null && typeof a.ID === 'string');
        let id = idAux?.ID as string | undefined;
        if (!id && p.tags[0]) id = (await inspectImageOrNull(ctx, p.tags[0]))?.Id;
        if (!id) throw new ConnectorError('ENGINE_ERROR', 'The build finished without reporting an image id', { operation: ctx.operation });
        return { id, tags: p.tags, log: log.trim(), log_truncated: log.truncated };
      });
    } catch (err) {
      body?.destroy();
      // A failure reported inside the stream (no HTTP status): say which step failed and what it printed.
      if (err instanceof ConnectorError && err.status === undefined && err.details?.engine_message) {
        const output = stepOutput
          .trim()
          .replace(/\u001b\[[0-9;]*m/g, '') // the Engine colours a step's stderr
          .split('\n')
          .filter((l) => l.trim() && !/^(?: ---> )?(Running in|Removed intermediate|Removing intermediate|Using cache)/.test(l))
          .join('\n');
        const where = step ? ` at ${step}` : '';
        throw new ConnectorError(err.code, `Build failed${where}: ${String(err.details.engine_message)}${output ? `\n${output}` : ''}`, {
          operation: ctx.operation,
          details: { ...err.details, step: step || null, output },
        });
      }
      throw err;
    }
  },
});

export const buildOperations = [buildImage] as const;
