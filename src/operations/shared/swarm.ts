/**
 * What the Swarm families (swarm, services, tasks, secrets, configs) share:
 * the object references and the one mapping of the Engine's Swarm errors.
 * A Swarm call goes through `swarmContext(ctx)`, whose requests raise the
 * clear errors below instead of the generic HTTP ones.
 */
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import type { OperationContext } from '../define.js';
import { engineMessageOf } from './engine-errors.js';

/*
 * Swarm objects are named by id (a full or unique short id) or name. Service,
 * secret and config names are letters, digits, "-", "_" and "."; node names
 * are host names; task names are "service.slot.id": one pattern covers them
 * all and keeps a reference from being read as a path.
 */
function swarmRef(what: string, example: string) {
  return z
    .string()
    .min(1)
    .max(256)
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, `expected a ${what} id or name (letters, digits, "_", ".", "-"), e.g. "${example}"`)
    .describe(`${what[0]!.toUpperCase()}${what.slice(1)} id, short id, or name`);
}

export const serviceRef = swarmRef('service', 'web');
export const nodeRef = swarmRef('node', 'worker-1');
export const taskRef = swarmRef('task', 'web.1.k3x9…');
export const secretRef = swarmRef('secret', 'db-password');
export const configRef = swarmRef('config', 'nginx-conf');

/** "This node is not a swarm manager…" (503), and the pre-init variant for /swarm. */
const NOT_MANAGER = /not a swarm manager|not part of a swarm/i;
/** Podman's answer on some Swarm routes (503, where a Docker Engine would say "not a swarm manager"). */
const NO_SWARM = /does not support service/i;
/** A secret or config a service still uses (400 on current Engines, 500 on some older ones). */
const IN_USE = /is in use by/i;

/**
 * The Engine's answer to a Swarm call, made clear: a non-manager Engine,
 * an Engine without Swarm, a secret or config still in use. Other errors
 * pass through unchanged.
 */
export function mapSwarmError(err: unknown, operation?: string): unknown {
  if (!(err instanceof ConnectorError)) return err;
  const message = engineMessageOf(err);
  const base = { status: err.status, operation: err.operation ?? operation, retryable: false, details: err.details, cause: err };
  if (err.status === 503 && NOT_MANAGER.test(message)) {
    return new ConnectorError(
      'UNAVAILABLE',
      `This Engine is not a swarm manager, so it cannot answer Swarm requests: run it against a manager node, or make this Engine one ("docker swarm init" starts a swarm here, "docker swarm join" joins one, "docker node promote" turns a worker into a manager). Engine: ${message}`,
      { ...base, details: { ...err.details, swarm: 'not_manager' } },
    );
  }
  // No route (the engine layer's UNSUPPORTED), or Podman's 503 "Podman does not support service: /v1.41/nodes/x".
  if ((err.code === 'UNSUPPORTED' && err.status === 404) || (err.status === 503 && NO_SWARM.test(message))) {
    const route = typeof err.details?.route === 'string' ? err.details.route : 'the Swarm endpoint';
    return new ConnectorError(
      'UNSUPPORTED',
      `This Engine does not support Swarm (${route} answered ${err.status} ${message}): Engines with a partial Docker API, such as Podman, have no Swarm; use a Docker Engine that is a swarm manager`,
      { ...base, details: { ...err.details, swarm: 'absent' } },
    );
  }
  if ((err.status === 400 || err.status === 500) && IN_USE.test(message)) {
    return new ConnectorError('CONFLICT', `Still in use by a service: remove it from the service (update_service) or remove the service first. Engine: ${message}`, base);
  }
  return err;
}

/**
 * The operation's context with every Engine request's error passed through
 * `mapSwarmError`: a Swarm family uses it for all its calls.
 */
export function swarmContext(ctx: OperationContext): OperationContext {
  const mapped = <T>(p: Promise<T>): Promise<T> => p.catch((err: unknown) => Promise.reject(mapSwarmError(err, ctx.operation)));
  return {
    ...ctx,
    json: <T>(req: Parameters<OperationContext['json']>[0]) => mapped(ctx.json<T>(req)),
    stream: (req: Parameters<OperationContext['stream']>[0]) => mapped(ctx.stream(req)),
  };
}

/** The Engine refused a write made against a stale spec version (another writer got in first). */
export function isOutOfSequence(err: unknown): boolean {
  return err instanceof ConnectorError && /update out of sequence/i.test(engineMessageOf(err));
}

/** How often a read-modify-write is tried before giving up on a busy object. */
const MAX_SPEC_WRITES = 8;

/**
 * The Engine's read-modify-write of a versioned Swarm object (service,
 * node, swarm): read the object, build the new spec from it, write it with
 * the version read. When another writer got in between (500 "update out of
 * sequence") it reads again and rebuilds, so the change lands on the newest
 * spec and the caller never handles versions.
 */
export async function writeWithVersion<O extends { Version?: { Index?: number } }, R>(
  ctx: OperationContext,
  read: () => Promise<O>,
  write: (current: O, version: number) => Promise<R>,
): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const current = await read();
    const version = current.Version?.Index;
    if (typeof version !== 'number') throw new ConnectorError('ENGINE_ERROR', 'The Engine answered an object without a version; it cannot be updated safely', { operation: ctx.operation });
    try {
      return await write(current, version);
    } catch (err) {
      if (!isOutOfSequence(err) || attempt >= MAX_SPEC_WRITES) throw err;
      ctx.log.debug({ operation: ctx.operation, attempt }, 'swarm object changed under us: reading it again');
      // A short, growing pause so racing writers spread out.
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.floor(Math.random() * 30)));
    }
  }
}
