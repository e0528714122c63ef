import type * as z from 'zod';
import { ConnectorError } from '../errors.js';

/**
 * Parses one surface section of the config file (`service`, `mcp`) with the
 * command line's overrides on top (undefined ones ignored). Errors name the
 * section and each bad field: "service.listen: …", "mcp: unknown setting x".
 */
export function parseSurfaceSection<S extends z.ZodType>(name: string, schema: S, section: unknown, overrides: object): z.output<S> {
  if (section !== undefined && (section === null || typeof section !== 'object' || Array.isArray(section))) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${name} must be an object of settings`);
  }
  const merged = { ...((section as Record<string, unknown>) ?? {}), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `${name}: unknown setting ${i.keys.join(', ')}` : `${name}.${i.path.join('.')}: ${i.message}`));
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
