import * as z from 'zod';

/** Small pieces every Engine object schema uses. */

/** A list of strings (command, env entries, …). */
export const strings = z.array(z.string());
/** A string → string map (labels, options, …). */
export const stringMap = z.record(z.string(), z.string());
/** The Engine's set encoding: keys that matter, each with an empty object (`{"80/tcp": {}}`). */
export const emptyObjectSet = z.record(z.string(), z.object({}));
