/** exec_container: runs a command in a running container and returns its exit code and output. */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { enginePath } from '../engine/path.js';
import { defineOperation, type OperationContext } from './define.js';
import { CappedOutput, MiB, OutputPump, type OutStream } from './shared/output-pump.js';
import { containerRef } from './shared/params.js';

const envName = z.string().regex(/^[^=\0]+$/, 'environment variable names contain no "=" or NUL');

const execParams = z
  .object({
    container: containerRef,
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .describe('The command. A string runs through `sh -c` (the image needs a shell); an array runs as is, without a shell, e.g. ["ls", "-l", "/"]'),
    env: z
      .union([z.record(envName, z.string()), z.array(z.string().regex(/^[^=\0]+=/, 'expected "NAME=value"'))])
      .optional()
      .describe('Extra environment: {"NAME": "value"} or ["NAME=value"]'),
    user: z.string().min(1).max(256).optional().describe('User to run as: "name", "uid", "uid:gid" or "name:group" (default: the container\'s user)'),
    working_dir: z.string().regex(/^\//, 'expected an absolute path in the container').optional().describe('Working directory in the container (absolute path)'),
    tty: z.boolean().default(false).describe('Allocate a terminal: output comes back raw, stdout and stderr mixed in `stdout`'),
    privileged: z.boolean().default(false).describe('Run with extended privileges'),
    stdin: z
      .string()
      .max(16 * MiB)
      .optional()
      .describe(
        'Text fed to the command\'s stdin, then stdin is closed (the command sees end of input). With `tty` it is typed into the terminal and the terminal stays open: end it with "\\u0004" (Ctrl-D) if the command reads to end of input. Through a proxy that does not keep half-closed connections (nginx), closing stdin closes the output too: use `tty` there.',
      ),
    timeout: z.number().positive().max(86_400).default(300).describe('Seconds the command may run; past that the call fails with TIMEOUT (the process may keep running in the container)'),
    max_bytes: z.number().int().min(0).max(256 * MiB).default(MiB).describe('Bytes of stdout and of stderr kept (each); the rest is read and dropped, and `truncated` is true'),
    fail_on_error: z.boolean().default(false).describe('Fail (ENGINE_ERROR with exit_code, stdout, stderr in details) when the command exits non-zero; by default a non-zero exit code is a result'),
  })
  .strict();

/** The connector's own shape: closed. */
const execResult = z.strictObject({
  exit_code: z.number().int().nullable().describe("The command's exit code; null when the Engine still reports it running after its output ended (a background child holds the output open)"),
  stdout: z.string().describe('What the command wrote to stdout (with `tty`: all of its output), UTF-8, at most `max_bytes`'),
  stderr: z.string().describe('What it wrote to stderr, at most `max_bytes`; always "" with `tty`'),
  truncated: z.boolean().describe('Output beyond `max_bytes` was dropped'),
  exec_id: z.string().describe("The Engine's id of the exec instance"),
});

export type ExecResult = z.output<typeof execResult>;

interface ExecInspect {
  Running?: boolean;
  ExitCode?: number | null;
}

export const execContainer = defineOperation({
  name: 'exec_container',
  category: 'containers',
  title: 'Run a command in a container',
  description:
    'Runs a command in a running container and returns its exit code and output (POST /containers/{id}/exec, POST /exec/{id}/start, GET /exec/{id}/json). ' +
    'A string command runs through `sh -c`; an array runs without a shell. Without a TTY stdout and stderr come back separately; with `tty` everything arrives in stdout. ' +
    'A non-zero exit code is a result unless `fail_on_error`. Never retried: a command may not be safe to run twice.',
  params: execParams,
  safety: 'write',
  idempotent: false,
  streaming: true,
  result: '{exit_code, stdout, stderr, truncated, exec_id}',
  resultSchema: execResult,
  async run(ctx, p): Promise<ExecResult> {
    const cmd = typeof p.command === 'string' ? ['sh', '-c', p.command] : p.command;
    const env = p.env === undefined ? undefined : Array.isArray(p.env) ? p.env : Object.entries(p.env).map(([k, v]) => `${k}=${v}`);
    const feedStdin = p.stdin !== undefined;
    const created = await ctx.json<{ Id: string }>({
      method: 'POST',
      path: enginePath`/containers/${p.container}/exec`,
      body: {
        AttachStdin: feedStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: p.tty,
        Privileged: p.privileged,
        Cmd: cmd,
        ...(env ? { Env: env } : {}),
        ...(p.user ? { User: p.user } : {}),
        ...(p.working_dir ? { WorkingDir: p.working_dir } : {}),
      },
    });
    const execId = created.body.Id;
    const startBody = { Detach: false, Tty: p.tty };
    const timeoutMs = p.timeout * 1000;
    const started = Date.now();
    const out = new CappedOutput(p.max_bytes, false);
    // Past the cap the output is still read (and dropped): the command must run to its end for its exit code.
    const onData = (stream: OutStream, chunk: Buffer) => void out.add(stream, chunk);

    // The output is framed unless TTY. Decided from our own Tty, not the Content-Type: without
    // the upgrade even Engine 28 labels a framed exec stream "raw-stream" (only a 101 says it right).
    let pump: OutputPump;
    if (feedStdin) {
      const conn = await ctx.upgrade({
        path: enginePath`/exec/${execId}/start`,
        body: startBody,
        timeoutMs: Math.min(timeoutMs, ctx.config.timeout * 1000),
      });
      pump = new OutputPump(conn.socket, p.tty, onData, ctx.operation, conn.head);
      // Without a TTY, half-close after the input: the command reads end-of-file while its
      // output still flows back. With a TTY the Engine answers end-of-input by closing the
      // output too, so the input side stays open until the command ends.
      const input = Buffer.from(p.stdin!, 'utf8');
      if (p.tty) conn.socket.write(input);
      else conn.socket.end(input);
    } else {
      const res = await ctx.stream({
        method: 'POST',
        path: enginePath`/exec/${execId}/start`,
        body: startBody,
        idempotent: false,
        // Our own total timer below decides; the idle timer must not fire first on a quiet command.
        idleTimeoutMs: timeoutMs + 5000,
      });
      pump = new OutputPump(res.body, p.tty, onData, ctx.operation);
    }

    const timer = setTimeout(
      () =>
        pump.fail(
          new ConnectorError('TIMEOUT', `The command did not finish within ${p.timeout}s; it may still be running in the container (exec ${execId})`, {
            operation: ctx.operation,
            details: { exec_id: execId },
          }),
        ),
      Math.max(0, timeoutMs - (Date.now() - started)),
    );
    const onAbort = () => pump.fail(new ConnectorError('TIMEOUT', 'The call was cancelled; the command may still be running in the container', { operation: ctx.operation }));
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await pump.done;
    } finally {
      clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onAbort);
    }

    const exitCode = await execExitCode(ctx, execId);
    const result: ExecResult = { exit_code: exitCode, stdout: out.text('stdout'), stderr: out.text('stderr'), truncated: out.truncated, exec_id: execId };
    if (p.fail_on_error && exitCode !== 0) {
      throw new ConnectorError('ENGINE_ERROR', `The command exited with code ${exitCode ?? 'unknown'}`, {
        operation: ctx.operation,
        details: { exit_code: exitCode, stdout: result.stdout.slice(-64 * 1024), stderr: result.stderr.slice(-64 * 1024), truncated: result.truncated, exec_id: execId },
      });
    }
    return result;
  },
});

/**
 * The exit code from GET /exec/{id}/json. The output stream can end a moment
 * before the Engine records the exit, so a still-running exec is asked again
 * briefly; null when it keeps running (a background child holds the output).
 */
async function execExitCode(ctx: OperationContext, execId: string): Promise<number | null> {
  for (let i = 0; ; i++) {
    const res = await ctx.json<ExecInspect>({ method: 'GET', path: enginePath`/exec/${execId}/json` });
    if (!res.body.Running) return res.body.ExitCode ?? null;
    if (i >= 50) return null;
    await new Promise((r) => setTimeout(r, Math.min(20 * (i + 1), 200)));
  }
}

export const execOperations = [execContainer] as const;
