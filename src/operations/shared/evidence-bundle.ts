/**
 * Forensic evidence bundles: one file per artifact of a container (inspect,
 * process list, file-system changes, logs, a stats sample, the file-system
 * export, the image's inspect and history, its networks), each streamed to
 * disk and hashed while written (the file sink: temporary name, SHA-256,
 * rename), then manifest.json last, so a folder without a manifest is
 * visibly incomplete. Used by collect_evidence and, from the connector, by
 * evidence_before_destroy.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ConnectorError, toConnectorError } from '../../errors.js';
import { enginePath } from '../../engine/path.js';
import { writeStreamToFile } from '../../files/file-sink.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../package-info.js';
import type { OperationContext } from '../define.js';
import { logReadable, outputIsRaw } from './log-output.js';
import { toUnixSeconds } from './params.js';
import { EVIDENCE_KINDS, type CollectEvidenceResult, type EvidenceKind } from './evidence-schemas.js';

export const MANIFEST_FILE = 'manifest.json';

/** The container inspect is read into memory (the manifest needs it before the folder is made): it is small, but capped all the same. */
const MAX_INSPECT_BYTES = 16 * 1024 * 1024;

export interface EvidenceRequest {
  /** Container id or name. */
  container: string;
  /** The bundle folder: created; refused when it exists and is not empty. */
  path: string;
  case_id?: string;
  operator?: string;
  include?: readonly EvidenceKind[];
  /** As container_logs' `since`. */
  logs_since?: string | number;
  /** Freeze the container while its file system and process list are read. */
  pause?: boolean;
  /** The parameter `path` came from, for INVALID_PARAMS messages. */
  pathParam?: string;
  /** Create missing parent folders (evidence_before_destroy's own folder); collect_evidence wants the parent to exist. */
  createParents?: boolean;
}

/** A manifest's artifact entry: a hash, or the error that kept it from being collected. */
export type ManifestArtifact =
  | { name: string; file: string; bytes: number; sha256: string; collected_at: string }
  | { name: string; error: { code: string; message: string }; collected_at: string };

/** The parts of the container inspect the manifest and the collection read. */
interface InspectView {
  Id: string;
  Name?: string;
  Image?: string;
  Config?: { Image?: string; Tty?: boolean; Labels?: Record<string, string> | null };
  State?: { Status?: string; Running?: boolean; Paused?: boolean; Restarting?: boolean };
  NetworkSettings?: { Networks?: Record<string, { NetworkID?: string }> | null };
}

const invalidPath = (param: string, why: string) => new ConnectorError('INVALID_PARAMS', `Invalid parameter ${param}: ${why}`, { details: { parameters: [param] } });

/** The folder, absolute, once it is known to be usable: absent (its parent existing, unless createParents) or an empty folder. */
export async function checkBundleFolder(path: string, param: string, createParents = false): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (st) {
    if (!st.isDirectory()) throw invalidPath(param, `${full} exists and is not a folder`);
    if ((await readdir(full)).length > 0) throw invalidPath(param, `${full} exists and is not empty; give a new folder for each bundle`);
    return full;
  }
  if (!createParents) {
    const parent = await stat(dirname(full)).catch(() => undefined);
    if (!parent?.isDirectory()) throw invalidPath(param, `folder ${dirname(full)} does not exist`);
  }
  return full;
}

/** A body read whole, up to `cap` bytes (a larger one is an error, never cut silently). */
async function readCapped(body: Readable, cap: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > cap) {
      body.destroy();
      throw new ConnectorError('ENGINE_ERROR', `The Engine's ${what} is larger than ${cap} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

const bufferStream = (buf: Buffer) => Readable.from([buf], { objectMode: false });

/** Concatenates JSON bodies into one JSON array, streamed; an entry that fails becomes {"error": …} in its place. */
function jsonArrayStream(parts: { label: string; open: () => Promise<Readable> }[]): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from('[');
      let first = true;
      for (const part of parts) {
        if (!first) yield Buffer.from(',\n');
        first = false;
        let body: Readable;
        try {
          body = await part.open();
        } catch (err) {
          const e = toConnectorError(err);
          yield Buffer.from(JSON.stringify({ network: part.label, error: { code: e.code, message: e.message } }));
          continue;
        }
        for await (const chunk of body) yield chunk as Buffer;
      }
      yield Buffer.from(']\n');
    })(),
    { objectMode: false },
  );
}

/**
 * Collects a bundle. Fails only when the container cannot be inspected (or
 * the folder cannot be used or the manifest not written); an artifact that
 * cannot be collected is recorded with its error. The container's state is
 * left as it was: with `pause`, a running container is frozen for the file
 * system and process list and unpaused after, unless it was paused before.
 */
export async function collectEvidenceBundle(ctx: OperationContext, req: EvidenceRequest): Promise<CollectEvidenceResult & { container_id: string; container_running: boolean }> {
  const param = req.pathParam ?? 'path';
  const started = new Date().toISOString();
  const dir = await checkBundleFolder(req.path, param, req.createParents);
  const include = new Set<EvidenceKind>(req.include ?? EVIDENCE_KINDS);

  // Inspect first: the one artifact whose failure fails the call, so nothing is created before it worked.
  const inspectAt = new Date().toISOString();
  const inspectBody = (await ctx.stream({ method: 'GET', path: enginePath`/containers/${req.container}/json` })).body;
  const inspectBytes = await readCapped(inspectBody, MAX_INSPECT_BYTES, 'container inspect');
  let info: InspectView;
  try {
    info = JSON.parse(inspectBytes.toString('utf8')) as InspectView;
  } catch {
    throw new ConnectorError('ENGINE_ERROR', 'The Engine answered the container inspect with a body that is not JSON');
  }
  const id = info.Id;

  await mkdir(dir, { recursive: req.createParents === true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw invalidPath(param, `cannot create ${dir}: ${err.code ?? err.message}`);
  });

  const artifacts: ManifestArtifact[] = [];
  /** Writes one artifact; `at` is when it was read from the Engine (default: now). */
  const write = async (name: string, file: string, open: () => Promise<Readable>, at = new Date().toISOString()): Promise<boolean> => {
    try {
      const written = await writeStreamToFile(await open(), join(dir, file), { operation: ctx.operation });
      artifacts.push({ name, file, bytes: written.bytes, sha256: written.sha256, collected_at: at });
      return true;
    } catch (err) {
      // A cancelled call stops here: no manifest, so the folder does not look complete.
      if (ctx.signal?.aborted) throw err;
      const e = toConnectorError(err, ctx.operation);
      artifacts.push({ name, error: { code: e.code, message: e.message }, collected_at: at });
      return false;
    }
  };
  const engineJson = (path: string, query?: Record<string, string | boolean | number | undefined>) => async () => (await ctx.stream({ method: 'GET', path, query })).body;

  if (include.has('inspect')) await write('inspect', 'inspect.json', async () => bufferStream(inspectBytes), inspectAt);

  const running = info.State?.Running === true && info.State?.Paused !== true;
  const pause: { requested: boolean; applied: boolean; error?: string; unpause_error?: string } = { requested: req.pause === true, applied: false };
  if (req.pause && running) {
    try {
      // Never repeated: a pause that worked before a lost connection would answer 409 and look like a failure.
      await ctx.json({ method: 'POST', path: enginePath`/containers/${id}/pause`, idempotent: false });
      pause.applied = true;
    } catch (err) {
      pause.error = toConnectorError(err).message; // collected unfrozen, and the manifest says so
    }
  }
  try {
    if (include.has('top')) await write('top', 'top.json', engineJson(enginePath`/containers/${id}/top`));
    if (include.has('changes')) await write('changes', 'changes.json', engineJson(enginePath`/containers/${id}/changes`));
    if (include.has('export')) await write('export', 'export.tar', engineJson(enginePath`/containers/${id}/export`));
  } finally {
    if (pause.applied) {
      try {
        // Not bound to the call's signal: a cancelled call must still leave the container running.
        await ctx.json({ method: 'POST', path: enginePath`/containers/${id}/unpause`, signal: undefined });
      } catch (err) {
        // A repeated unpause answers "not paused": only a container still paused is a failure.
        const still = await ctx
          .json<InspectView>({ method: 'GET', path: enginePath`/containers/${id}/json`, signal: undefined })
          .then((r) => r.body.State?.Paused !== false, () => true);
        if (still) pause.unpause_error = toConnectorError(err).message;
      }
    }
  }

  if (include.has('logs')) {
    await write('logs', 'logs.txt', async () => {
      const since = req.logs_since === undefined ? undefined : toUnixSeconds(req.logs_since)!.toFixed(9);
      const res = await ctx.stream({ method: 'GET', path: enginePath`/containers/${id}/logs`, query: { stdout: true, stderr: true, timestamps: true, since } });
      const raw = outputIsRaw(ctx, res.headers['content-type'], info.Config?.Tty === true);
      return logReadable(ctx, { body: res.body, raw }, undefined, undefined).stream;
    });
  }
  // Two samples a second apart, as container_stats by default: the CPU figure is then meaningful.
  if (include.has('stats')) await write('stats', 'stats.json', engineJson(enginePath`/containers/${id}/stats`, { stream: false }));
  let imageDigests: string[] | null = null;
  if (include.has('image') && info.Image) {
    if (await write('image', 'image.json', engineJson(enginePath`/images/${info.Image}/json`))) {
      imageDigests = await readFile(join(dir, 'image.json'), 'utf8').then(
        (text) => ((JSON.parse(text) as { RepoDigests?: string[] | null }).RepoDigests ?? []) as string[],
        () => null,
      );
    }
    await write('image_history', 'image-history.json', engineJson(enginePath`/images/${info.Image}/history`));
  }
  if (include.has('networks')) {
    const nets = Object.entries(info.NetworkSettings?.Networks ?? {});
    await write('networks', 'networks.json', async () =>
      jsonArrayStream(nets.map(([name, ep]) => ({ label: name, open: engineJson(enginePath`/networks/${ep.NetworkID || name}`) }))),
    );
  }

  const manifest = {
    format: 'docker-connector-evidence/1',
    case_id: req.case_id ?? null,
    operator: req.operator ?? null,
    collected_at: { start: started, end: new Date().toISOString() },
    tool: { name: PACKAGE_NAME, version: PACKAGE_VERSION, operation: ctx.operation },
    engine: await engineFacts(ctx),
    container: {
      id,
      name: (info.Name ?? '').replace(/^\//, ''),
      image: info.Config?.Image ?? null,
      image_id: info.Image ?? null,
      image_digests: imageDigests,
      state: { status: info.State?.Status ?? null, running: info.State?.Running === true, paused: info.State?.Paused === true },
    },
    ...swarmOf(info.Config?.Labels),
    pause,
    include: EVIDENCE_KINDS.filter((k) => include.has(k)),
    logs_since: req.logs_since ?? null,
    artifacts,
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const written = await writeStreamToFile(bufferStream(manifestBytes), join(dir, MANIFEST_FILE), { operation: ctx.operation });
  if (pause.unpause_error) {
    throw new ConnectorError('ENGINE_ERROR', `Evidence was collected into ${dir}, but the container ${id} could not be unpaused: ${pause.unpause_error}`, { operation: ctx.operation });
  }
  const done = artifacts.filter((a): a is Extract<ManifestArtifact, { sha256: string }> => 'sha256' in a);
  return {
    container_id: id,
    container_running: info.State?.Running === true,
    path: dir,
    manifest_sha256: written.sha256,
    artifacts: done.map(({ name, file, bytes, sha256 }) => ({ name, file, bytes, sha256 })),
    failed: artifacts.flatMap((a) => ('error' in a ? [{ name: a.name, code: a.error.code, message: a.error.message }] : [])),
    bytes: done.reduce((sum, a) => sum + a.bytes, written.bytes),
  };
}

/** The Engine's identity (GET /info, GET /version); an Engine that will not say is recorded with the error. */
async function engineFacts(ctx: OperationContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { endpoint: ctx.endpoint.address, api_version_used: ctx.apiVersion };
  try {
    const info = (await ctx.json<{ ID?: string; Name?: string }>({ method: 'GET', path: '/info' })).body;
    out.id = info?.ID ?? null;
    out.name = info?.Name ?? null;
  } catch (err) {
    out.info_error = toConnectorError(err).message;
  }
  try {
    const v = (await ctx.json<{ Version?: string; ApiVersion?: string; Os?: string; Arch?: string }>({ method: 'GET', path: '/version' })).body;
    out.version = v?.Version ?? null;
    out.api_version = v?.ApiVersion ?? null;
    out.os = v?.Os ?? null;
    out.arch = v?.Arch ?? null;
  } catch (err) {
    out.version_error = toConnectorError(err).message;
  }
  return out;
}

/** The Swarm service and task a container belongs to, from the labels Swarm gives task containers. */
function swarmOf(labels: Record<string, string> | null | undefined): { swarm?: Record<string, string | null> } {
  const l = labels ?? {};
  const keys = { service_id: 'com.docker.swarm.service.id', service_name: 'com.docker.swarm.service.name', task_id: 'com.docker.swarm.task.id', task_name: 'com.docker.swarm.task.name' };
  if (!Object.values(keys).some((k) => Object.hasOwn(l, k))) return {};
  return { swarm: Object.fromEntries(Object.entries(keys).map(([field, label]) => [field, l[label] ?? null])) };
}
