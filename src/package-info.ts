import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's own version, read from its package.json. The file is looked
 * up from this module's folder upwards because this code runs from dist/ and
 * from the CLI bundle (dist/bundle/), which sit at different depths.
 */
function readPackageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'docker-connector' && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level: go one up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export const PACKAGE_VERSION: string = readPackageVersion();

/** The package's name, as tools that record what produced a file (evidence manifests) write it. */
export const PACKAGE_NAME = 'docker-connector';
