import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { homeOf } from './docker-contexts.js';

/**
 * Where an Engine listens when nothing names one and the system socket is
 * absent: rootless Docker, Docker Desktop, then Podman's Docker-compatible
 * socket (the user's, then the system one), in that order.
 */

export const DEFAULT_SOCKET = '/var/run/docker.sock';
const SYSTEM_PODMAN_SOCKET = '/run/podman/podman.sock';

export interface SocketCandidate {
  path: string;
  /** How the path was formed, as a user would write it. */
  rule: string;
  /** What usually listens there. */
  what: string;
}

export interface DiscoveryPaths {
  /** The system socket whose presence stops discovery (tests point it elsewhere). */
  defaultSocket?: string;
  /** The system Podman socket, last candidate (tests point it elsewhere). */
  systemPodmanSocket?: string;
}

export function socketCandidates(env: NodeJS.ProcessEnv, paths: DiscoveryPaths = {}): SocketCandidate[] {
  const out: SocketCandidate[] = [];
  const xdg = env.XDG_RUNTIME_DIR;
  const home = homeOf(env);
  if (xdg) out.push({ path: join(xdg, 'docker.sock'), rule: '$XDG_RUNTIME_DIR/docker.sock', what: 'rootless Docker' });
  if (home) out.push({ path: join(home, '.docker', 'run', 'docker.sock'), rule: '~/.docker/run/docker.sock', what: 'Docker Desktop' });
  if (xdg) out.push({ path: join(xdg, 'podman', 'podman.sock'), rule: '$XDG_RUNTIME_DIR/podman/podman.sock', what: 'rootless Podman' });
  const system = paths.systemPodmanSocket ?? SYSTEM_PODMAN_SOCKET;
  out.push({ path: system, rule: system, what: 'Podman' });
  return out;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * The first candidate that is a socket, when the default socket does not
 * exist; undefined otherwise (the default stands, and a failure names it).
 * A socket file is taken without connecting: loading the configuration stays
 * synchronous, and a stale socket then fails with its path in the message.
 */
export function discoverSocket(env: NodeJS.ProcessEnv, paths: DiscoveryPaths = {}): SocketCandidate | undefined {
  if (existsSync(paths.defaultSocket ?? DEFAULT_SOCKET)) return undefined;
  return socketCandidates(env, paths).find((c) => isSocket(c.path));
}
