/**
 * A container's running state: start, stop, restart, kill, pause, unpause,
 * and waiting for a condition. 304 (already in that state) is success with
 * changed=false.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { requireApi } from './shared/api-version.js';
import { signalParam, stopParams } from './shared/container-schemas.js';
import { inspectContainer as getContainer } from './shared/container-lookup.js';
import { evidenceList } from './shared/evidence-schemas.js';
import { containerRef } from './shared/params.js';

/** What a state change answers: the container as named, and whether anything changed. */
const stateChangeResult = z.strictObject({
  container: z.string().describe('The container, as the call named it'),
  changed: z.boolean().describe('False when it was already in that state'),
});

/** A POST action where 304 means "already in that state". */
async function stateAction(ctx: OperationContext, container: string, action: string, query?: Record<string, string | number | undefined>, timeoutMs?: number) {
  const res = await ctx.json({
    method: 'POST',
    path: `${enginePath`/containers/${container}`}/${action}`,
    query,
    okStatuses: [304],
    timeoutMs,
  });
  return { container, changed: res.status !== 304 };
}

/** Stop and restart wait for the container to exit: allow that long, plus the configured timeout for the call itself. */
function stopCallTimeout(ctx: OperationContext, waitSeconds: number | undefined): number {
  return ((waitSeconds ?? 10) + ctx.config.timeout) * 1000;
}

/* ---------------- state changes ---------------- */

export const startContainer = defineOperation({
  name: 'start_container',
  category: 'containers',
  title: 'Start a container',
  description: 'Starts a created or stopped container (POST /containers/{id}/start). Already running: success with changed=false.',
  params: z.object({ container: containerRef }).strict(),
  safety: 'write',
  idempotent: true,
  result: '{container, changed}',
  resultSchema: stateChangeResult,
  async run(ctx, p) {
    return stateAction(ctx, p.container, 'start');
  },
});

export const stopContainer = defineOperation({
  name: 'stop_container',
  category: 'containers',
  title: 'Stop a container',
  description:
    'Sends the stop signal, waits up to `timeout` seconds, then kills (POST /containers/{id}/stop). Already stopped: success with changed=false. Without `timeout` the container\'s own stop timeout applies (10 s unless set at create).',
  params: stopParams,
  safety: 'write',
  idempotent: true,
  result: '{container, changed}',
  resultSchema: stateChangeResult,
  async run(ctx, p) {
    if (p.signal !== undefined) requireApi(ctx, '1.42', 'signal');
    return stateAction(ctx, p.container, 'stop', { t: p.timeout, signal: p.signal }, stopCallTimeout(ctx, p.timeout));
  },
});

export const restartContainer = defineOperation({
  name: 'restart_container',
  category: 'containers',
  title: 'Restart a container',
  description: 'Stops (waiting up to `timeout` seconds) and starts a container (POST /containers/{id}/restart); starts it if it was stopped.',
  params: stopParams,
  safety: 'write',
  // Repeating it (only ever after a lost connection) leaves the same end
  // state: the container running a fresh process.
  idempotent: true,
  result: '{container, changed}',
  resultSchema: stateChangeResult,
  async run(ctx, p) {
    if (p.signal !== undefined) requireApi(ctx, '1.42', 'signal');
    return stateAction(ctx, p.container, 'restart', { t: p.timeout, signal: p.signal }, stopCallTimeout(ctx, p.timeout));
  },
});

export const killContainer = defineOperation({
  name: 'kill_container',
  category: 'containers',
  title: 'Send a signal to a container',
  description: 'Sends a signal (default SIGKILL) to the container\'s main process (POST /containers/{id}/kill). A container that is not running is a CONFLICT: the signal could not be delivered.',
  params: z
    .object({
      container: containerRef,
      signal: signalParam.optional().describe('Signal to send (default "SIGKILL")'),
    })
    .strict(),
  safety: 'write',
  // Not idempotent: a signal such as SIGHUP or SIGUSR1 delivered twice acts
  // twice, and a repeated SIGKILL fails with "not running".
  idempotent: false,
  result: '{container, changed: true}',
  resultSchema: z.strictObject({
    container: z.string().describe('The container, as the call named it'),
    changed: z.literal(true).describe('Always true: the signal was delivered'),
    evidence: evidenceList,
  }),
  async run(ctx, p) {
    await ctx.json({ method: 'POST', path: enginePath`/containers/${p.container}/kill`, query: { signal: p.signal } });
    return { container: p.container, changed: true as const };
  },
});

/**
 * Pause of a paused container answers 409, unpause of one that is not
 * paused 500 (Engines 20.10 to 28). When inspect then shows the wanted
 * state already holds, that is a no-op (changed=false); otherwise (pausing
 * a stopped container) the Engine's error stands.
 */
async function pauseAction(ctx: OperationContext, container: string, pause: boolean) {
  try {
    await ctx.json({ method: 'POST', path: `${enginePath`/containers/${container}`}/${pause ? 'pause' : 'unpause'}` });
    return { container, changed: true };
  } catch (err) {
    if (!(err instanceof ConnectorError) || (err.status !== 409 && err.status !== 500)) throw err;
    const state = (await getContainer(ctx, container)).State;
    if (pause ? state?.Paused === true : state?.Paused !== true) return { container, changed: false };
    throw err;
  }
}

export const pauseContainer = defineOperation({
  name: 'pause_container',
  category: 'containers',
  title: 'Pause a container',
  description: 'Freezes all processes in a running container (POST /containers/{id}/pause). Already paused: success with changed=false.',
  params: z.object({ container: containerRef }).strict(),
  safety: 'write',
  idempotent: true,
  result: '{container, changed}',
  resultSchema: stateChangeResult,
  async run(ctx, p) {
    return pauseAction(ctx, p.container, true);
  },
});

export const unpauseContainer = defineOperation({
  name: 'unpause_container',
  category: 'containers',
  title: 'Unpause a container',
  description: 'Resumes a paused container (POST /containers/{id}/unpause). Not paused: success with changed=false.',
  params: z.object({ container: containerRef }).strict(),
  safety: 'write',
  idempotent: true,
  result: '{container, changed}',
  resultSchema: stateChangeResult,
  async run(ctx, p) {
    return pauseAction(ctx, p.container, false);
  },
});

export const waitContainer = defineOperation({
  name: 'wait_container',
  category: 'containers',
  title: 'Wait for a container',
  description:
    'Blocks until the container reaches the condition, then returns its exit code (POST /containers/{id}/wait). Not reached within `timeout` seconds: TIMEOUT. Use next-exit before start_container to catch the exit code of a run.',
  params: z
    .object({
      container: containerRef,
      condition: z.enum(['not-running', 'next-exit', 'removed']).default('not-running').describe('What to wait for'),
      timeout: z.number().positive().max(86_400).default(300).describe('Seconds to wait at most'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{container, status_code, error?}',
  resultSchema: z.strictObject({
    container: z.string().describe('The container, as the call named it'),
    status_code: z.number().int().describe('Exit code of the container (e.g. 137 after SIGKILL)'),
    error: z.string().optional().describe("The Engine's error while waiting, if any"),
  }),
  async run(ctx, p) {
    let res;
    try {
      // The Engine sends headers at once and the body when the condition is met: a total timeout of `timeout` is right here.
      res = await ctx.json<{ StatusCode: number; Error?: { Message?: string } | null }>({
        method: 'POST',
        path: enginePath`/containers/${p.container}/wait`,
        query: { condition: p.condition },
        timeoutMs: p.timeout * 1000,
      });
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'TIMEOUT' && !ctx.signal?.aborted) {
        throw new ConnectorError('TIMEOUT', `Container ${p.container} did not reach "${p.condition}" within ${p.timeout}s`, {
          operation: ctx.operation,
          details: { container: p.container, condition: p.condition, timeout: p.timeout },
        });
      }
      throw err;
    }
    const message = res.body.Error?.Message;
    return { container: p.container, status_code: res.body.StatusCode, ...(message ? { error: message } : {}) };
  },
});

/** Container state operations. */
export const containerStateOperations = [startContainer, stopContainer, restartContainer, killContainer, pauseContainer, unpauseContainer, waitContainer] as const;
