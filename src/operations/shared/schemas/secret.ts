/**
 * The Engine's Swarm secret and config objects (GET /secrets, /configs and
 * their inspect): the documented fields of the Engine API's `Secret` and
 * `Config`. Open objects (z.object). A secret's spec never carries its data
 * (the Engine does not return it, and the connector drops it should an
 * Engine ever send it); a config's spec carries its data (not secret), base64.
 */
import * as z from 'zod';
import { stringMap } from './common.js';
import { objectVersion } from './task.js';

const driver = z.object({ Name: z.string().describe('Driver name'), Options: stringMap.nullable().optional().describe('Driver options') });

const commonSpec = {
  Name: z.string().describe('Name'),
  Labels: stringMap.nullable().optional().describe('Labels'),
  Templating: driver.nullable().optional().describe('Templating driver, when the payload is a template'),
};

/** Version and times, as every Swarm object carries them. */
const objectMeta = {
  Version: objectVersion.optional(),
  CreatedAt: z.string().optional().describe('Creation time, RFC 3339'),
  UpdatedAt: z.string().optional().describe('Last update time, RFC 3339'),
};

export const secret = z.object({
  ID: z.string().describe('Secret id'),
  ...objectMeta,
  Spec: z
    .object({
      ...commonSpec,
      Driver: driver.nullable().optional().describe('External secret store driver, when the data comes from one'),
    })
    .describe('The secret: name, labels, drivers (never its data)'),
});
export type Secret = z.output<typeof secret>;

export const config = z.object({
  ID: z.string().describe('Config id'),
  ...objectMeta,
  Spec: z
    .object({
      ...commonSpec,
      Data: z.string().optional().describe('The content, base64 (a config is not secret)'),
    })
    .describe('The config: name, labels, data'),
});
export type Config = z.output<typeof config>;
