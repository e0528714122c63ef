/**
 * Parameter schemas of the container lifecycle operations: the friendly
 * create and update parameters (parsed by container-params.ts into the
 * Engine's shapes), names, signals and Engine-shaped config objects.
 */
import * as z from 'zod';
import {
  ParamError,
  parseCpus,
  parseEnv,
  parseLabels,
  parsePorts,
  parseRestartPolicy,
  parseSize,
  parseVolumes,
  toArgv,
  type PortsInput,
} from './container-params.js';
import { boolFilter, containerRef, engineFilters, IMAGE_REF_PATTERN, imageRef, oneOrMany } from './params.js';

/** A schema whose value is parsed by a container-params helper; its ParamError becomes a validation issue on this parameter. */
export function parsedWith<S extends z.ZodType, O>(schema: S, parse: (value: z.output<S>) => O) {
  return schema.transform((value, ctx) => {
    try {
      return parse(value);
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
      return z.NEVER;
    }
  });
}

export const sizeParam = parsedWith(z.union([z.number(), z.string()]), (v) => parseSize(v));
export const cpusParam = parsedWith(z.union([z.number(), z.string()]), parseCpus).describe('CPUs the container may use, e.g. 0.5 or 2 (sent as NanoCpus)');
export const restartPolicyParam = parsedWith(
  z.union([
    z.string(),
    z
      .object({
        name: z.enum(['no', 'always', 'unless-stopped', 'on-failure']).describe('Policy name'),
        maximum_retry_count: z.number().int().min(0).optional().describe('Retries before giving up (on-failure only)'),
      })
      .strict(),
  ]),
  parseRestartPolicy,
).describe('Restart policy: "no", "always", "unless-stopped", "on-failure" or "on-failure:3", or {name, maximum_retry_count}');

/** A new container's name, by the Engine's rule (two characters at least). */
export const containerNameParam = z
  .string()
  .max(255)
  .regex(/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/, 'expected a name of letters, digits, "_", ".", "-" (at least 2 characters, starting with a letter or digit)');

export const signalParam = z
  .string()
  .max(32)
  .regex(/^(?:[A-Za-z][A-Za-z0-9+-]*|\d{1,2})$/, 'expected a signal name like "SIGTERM", "TERM", "SIGRTMIN+3" or a number like "9"');

/** Field names in the Engine's own config objects are PascalCase; snake_case here is almost always a mix-up with the friendly parameters. */
export const engineFields = z.record(z.string(), z.unknown()).superRefine((obj, ctx) => {
  for (const key of Object.keys(obj)) {
    if (!/^[A-Z][A-Za-z0-9]*$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is not an Engine field: Engine field names are PascalCase (e.g. "StopSignal")` });
  }
});

export const timeoutSeconds = z.number().int().min(0).max(86_400);


/** create_container's parameters. */
export const createContainerParams = z
  .object({
    image: imageRef.describe('Image to create the container from (must exist locally)'),
    name: containerNameParam.optional().describe('Container name (default: the Engine picks one)'),
    command: parsedWith(z.union([z.string(), z.array(z.string()).min(1)]), toArgv)
      .optional()
      .describe(
        'Command to run: an array (preferred) like ["sleep", "300"], or a string split on whitespace with simple quoting (\'…\', "…", \\). Strings with shell syntax (|, ;, &&, $, >, globs) are refused: pass ["sh", "-c", "…"] for those.',
      ),
    entrypoint: parsedWith(z.union([z.string(), z.array(z.string())]), (v) => (v === '' ? [] : toArgv(v)))
      .optional()
      .describe('Entrypoint, as an array or a string (split like `command`); "" or [] clears the image\'s entrypoint'),
    env: parsedWith(z.union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.array(z.string())]), parseEnv)
      .optional()
      .describe('Environment: {"KEY": "value"} or ["KEY=value", …]'),
    labels: parsedWith(z.union([z.record(z.string(), z.string()), z.array(z.string())]), parseLabels)
      .optional()
      .describe('Labels: {"key": "value"} or ["key=value", …]'),
    ports: parsedWith(
      z.union([z.array(z.string()), z.record(z.string(), z.union([z.number(), z.string(), z.null(), z.array(z.union([z.number(), z.string()]))]))]),
      (v) => parsePorts(v as PortsInput),
    )
      .optional()
      .describe(
        'Published ports: ["8080:80", "127.0.0.1:5353:53/udp", "[::1]:8443:443", "9000"] (a port alone = a random host port), or {"80/tcp": 8080, "53/udp": "127.0.0.1:5353", "9000": null}',
      ),
    volumes: parsedWith(z.array(z.string()), (v) => parseVolumes(v))
      .optional()
      .describe('Volumes as `docker run -v` takes them: "name:/data", "/host/dir:/data:ro", or "/data" for an anonymous volume'),
    binds: parsedWith(z.array(z.string()), (v) => parseVolumes(v, true))
      .optional()
      .describe('Bind mounts and named volumes ("source:/container/path[:ro]"), added to those from `volumes`'),
    network: z
      .string()
      .max(255)
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.:-]*$/, 'expected a network name or id, "host", "none", or "container:<name>"')
      .optional()
      .describe('Network to attach to at creation (name or id, "bridge", "host", "none", "container:<name>")'),
    restart_policy: restartPolicyParam.optional(),
    memory: sizeParam.optional().describe('Memory limit: bytes, or a size like "512m", "1g" (0 = no limit)'),
    cpus: cpusParam.optional(),
    user: z
      .string()
      .max(256)
      .regex(/^[^:\s]+(?::[^:\s]+)?$/, 'expected "user", "uid", "user:group" or "uid:gid"')
      .optional()
      .describe('User (and group) to run as: "name", "uid", "name:group", "uid:gid"'),
    working_dir: z.string().max(4096).regex(/^\//, 'expected an absolute path').optional().describe('Working directory inside the container (absolute path)'),
    tty: z.boolean().optional().describe('Allocate a pseudo-TTY (logs are then not split into stdout/stderr)'),
    auto_remove: z.boolean().optional().describe('Remove the container when it exits'),
    hostname: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,252}$/, 'expected a host name of letters, digits, "." and "-"')
      .optional()
      .describe('Host name inside the container'),
    platform: z
      .string()
      .regex(/^[a-z0-9]+(?:\/[a-z0-9._-]+){0,2}$/, 'expected os[/arch[/variant]] like "linux/amd64"')
      .optional()
      .describe('Platform of the image to use, e.g. "linux/amd64" (API 1.41+)'),
    config: engineFields
      .refine((c) => !('HostConfig' in c), 'put HostConfig fields in host_config')
      .optional()
      .describe('Extra container config in the Engine\'s shape (e.g. {"StopSignal": "SIGINT", "Healthcheck": {…}}); NetworkingConfig may be given here too'),
    host_config: engineFields.optional().describe('Extra HostConfig in the Engine\'s shape (e.g. {"CapAdd": ["NET_ADMIN"], "ShmSize": 67108864})'),
  })
  .strict();

/** update_container's parameters. */
export const updateContainerParams = z
  .object({
    container: containerRef,
    memory: sizeParam.optional().describe('Memory limit: bytes or a size like "512m"'),
    memory_swap: parsedWith(z.union([z.number(), z.string()]), (v) => parseSize(v, true))
      .optional()
      .describe('Memory plus swap limit: bytes or a size; -1 = unlimited swap'),
    memory_reservation: sizeParam.optional().describe('Soft memory limit: bytes or a size'),
    cpus: cpusParam.optional(),
    cpu_shares: z.number().int().min(0).max(262_144).optional().describe('Relative CPU weight (default 1024)'),
    cpu_period: z.number().int().min(0).max(1_000_000).optional().describe('CFS period in microseconds'),
    cpu_quota: z.number().int().min(-1).optional().describe('CFS quota in microseconds per period (-1 = none)'),
    cpuset_cpus: z.string().regex(/^[\d,-]+$/, 'expected CPUs like "0-3" or "0,1"').optional().describe('CPUs the container may run on, e.g. "0-3"'),
    cpuset_mems: z.string().regex(/^[\d,-]+$/, 'expected memory nodes like "0" or "0,1"').optional().describe('Memory nodes the container may use'),
    blkio_weight: z.number().int().min(0).max(1000).optional().describe('Block IO weight (10-1000, 0 = unset)'),
    pids_limit: z.number().int().min(-1).optional().describe('Maximum number of processes (0 or -1 = unlimited)'),
    restart_policy: restartPolicyParam.optional(),
  })
  .strict()
  .refine((p) => Object.entries(p).some(([k, v]) => k !== 'container' && v !== undefined), 'give at least one setting to change');

/** GET /containers/json filters, with the values the Engine accepts (it answers 400 to others). */
export const containerListFilters = engineFilters({
  status: oneOrMany(z.enum(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'])).describe('Container state'),
  health: oneOrMany(z.enum(['starting', 'healthy', 'unhealthy', 'none'])).describe('Health check state'),
  exited: z.union([z.number().int().min(0).max(255), oneOrMany(z.string().regex(/^\d{1,3}$/, 'expected an exit code'))]).describe('Exit code (with all: true)'),
  'is-task': boolFilter.describe('Only (true) or no (false) swarm task containers'),
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  name: oneOrMany(z.string()).describe('Name or part of it (a regular expression)'),
  id: oneOrMany(z.string()).describe('Id or id prefix'),
  ancestor: oneOrMany(z.string().regex(IMAGE_REF_PATTERN, 'expected an image reference')).describe('Created from this image or a descendant'),
  before: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a container id or name').describe('Created before this container (id or name)'),
  since: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a container id or name').describe('Created after this container (id or name)'),
  volume: oneOrMany(z.string()).describe('Volume name or mount point'),
  network: oneOrMany(z.string()).describe('Network name or id'),
  publish: oneOrMany(z.string().regex(/^\d{1,4}(?:\/(?:tcp|udp|sctp))?$/, 'expected a port like "80" or "80/tcp"')).describe('Published port, "80" or "80/tcp"'),
  expose: oneOrMany(z.string().regex(/^\d{1,4}(?:\/(?:tcp|udp|sctp))?$/, 'expected a port like "80" or "80/tcp"')).describe('Exposed port, "80" or "80/tcp"'),
});

/** Stop and restart take the same parameters: how long to wait, and which signal to stop with. */
export const stopParams = z
  .object({
    container: containerRef,
    timeout: timeoutSeconds.optional().describe('Seconds to wait for the container to exit before killing it'),
    signal: signalParam.optional().describe('Signal to stop with instead of the container\'s StopSignal (API 1.42+)'),
  })
  .strict();

const repoPattern = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const COMMIT_INSTRUCTIONS = /^\s*(CMD|ENTRYPOINT|ENV|EXPOSE|HEALTHCHECK|LABEL|ONBUILD|SHELL|STOPSIGNAL|USER|VOLUME|WORKDIR)\s/i;

/** container_commit's parameters. */
export const commitParams = z
  .object({
    container: containerRef,
    repo: z
      .string()
      .max(255)
      .regex(repoPattern, 'expected a lowercase repository name like "myapp" or "registry:5000/team/app" (give the tag in `tag`)')
      .optional()
      .describe('Repository of the new image (none: an untagged image)'),
    tag: z
      .string()
      .regex(/^[\w][\w.-]{0,127}$/, 'expected a tag of letters, digits, "_", ".", "-" (at most 128)')
      .optional()
      .describe('Tag of the new image (default "latest" when repo is set)'),
    comment: z.string().max(10_000).optional().describe('Commit message'),
    author: z.string().max(1000).optional().describe('Author, e.g. "Jane <jane@example.com>"'),
    changes: z
      .array(z.string().max(10_000).regex(COMMIT_INSTRUCTIONS, 'expected a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER, VOLUME or WORKDIR'))
      .optional()
      .describe('Dockerfile instructions to apply, e.g. ["CMD [\\"app\\"]", "ENV MODE=prod"]'),
    pause: z.boolean().default(true).describe('Pause the container while committing'),
  })
  .strict()
  .refine((p) => p.tag === undefined || p.repo !== undefined, { message: 'a tag needs a repo', path: ['tag'] });
