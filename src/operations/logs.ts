/** container_logs: a container's stdout and stderr, in the result, to a file, or as a stream. */
import { enginePath } from '../engine/path.js';
import { defineOperation, STREAM_TYPES, type OperationContext } from './define.js';
import { engineLogQuery, logParams, logReadable, logsResultSchema, outputIsRaw, readLog, type LogsFileResult, type LogsResult, type LogWindow, type OpenedLog } from './shared/log-output.js';
import { containerRef } from './shared/params.js';

export { LogLineSplitter, type LogLine, type LogsFileResult, type LogsResult } from './shared/log-output.js';

const logsParams = logParams({ container: containerRef });

/** Opens the log body and says whether it is framed. */
async function openLogs(ctx: OperationContext, p: LogWindow & { container: string }): Promise<OpenedLog> {
  let tty = false;
  if (!ctx.atLeast('1.42')) {
    // Older Engines do not say in the Content-Type whether the log is framed: the container's TTY does.
    const info = await ctx.json<{ Config?: { Tty?: boolean } }>({ method: 'GET', path: enginePath`/containers/${p.container}/json` });
    tty = Boolean(info.body.Config?.Tty);
  }
  const res = await ctx.stream({
    method: 'GET',
    path: enginePath`/containers/${p.container}/logs`,
    query: engineLogQuery(p, Date.now()),
    // While following, silence is normal: the follow window ends the read, not the idle timer.
    idleTimeoutMs: ((p.follow_for ?? 0) + ctx.config.timeout) * 1000,
  });
  return { body: res.body, raw: outputIsRaw(ctx, res.headers['content-type'], tty) };
}

export const containerLogs = defineOperation({
  name: 'container_logs',
  localPaths: ['path'],
  category: 'containers',
  title: 'Container logs',
  description:
    'Reads a container\'s stdout and stderr (GET /containers/{id}/logs), separated when the container has no TTY. Returns at most `max_bytes` (truncated: true when cut); ' +
    '`follow_for` keeps reading new output for that many seconds; `timestamps` adds `lines` with each line\'s time; `path` streams the whole log to a file instead.',
  params: logsParams,
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{stdout, stderr, truncated, lines?: [{stream, timestamp, text}]}; with `path`: {path, bytes, sha256, truncated}',
  resultSchema: logsResultSchema,
  async run(ctx, p): Promise<LogsResult | LogsFileResult> {
    return readLog(ctx, p, () => openLogs(ctx, p));
  },
  async openStream(ctx, p) {
    const { stream } = logReadable(ctx, await openLogs(ctx, p), p.max_bytes, p.follow_for);
    return { stream, contentType: STREAM_TYPES.text };
  },
  streamContentType: STREAM_TYPES.text,
});

export const logsOperations = [containerLogs] as const;
