import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HARNESS_DIR } from './harness.js';

/** What test/harness/podman.sh writes to $DC_HARNESS_DIR/podman/env.json. */
export interface PodmanEnv {
  name: 'podman';
  /** unix:// address of Podman's Docker-compatible API. */
  host: string;
  /** Podman's version (4.3.x) and the Docker API version it speaks (1.41). */
  version: string;
  apiVersion: string;
  netns: string;
  /** The htpasswd registry (the harness' credentials) inside Podman's namespace. */
  registry: string;
  /** A registry without auth holding dc/busybox: what Podman's search can search. */
  searchRegistry: string;
  /** The harness image as Podman names it (localhost/dc-busybox:latest). */
  image: string;
}

let cached: PodmanEnv | undefined;

export function podman(): PodmanEnv {
  cached ??= JSON.parse(readFileSync(join(HARNESS_DIR, 'podman', 'env.json'), 'utf8')) as PodmanEnv;
  return cached;
}
