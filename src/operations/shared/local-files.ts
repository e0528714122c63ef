/** Files and folders on the connector's own host that an operation reads or writes. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as z from 'zod';
import type { OperationContext } from '../define.js';
import { invalidParam } from './params.js';

/** A local file or folder path. */
export const localPathParam = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

/** The absolute path of an existing local file or folder; INVALID_PARAMS naming `param` otherwise. */
export async function checkLocalPath(ctx: OperationContext, param: string, path: string, kind: 'dir' | 'file'): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (!st) throw invalidParam(ctx, param, `${full} does not exist`);
  if (kind === 'dir' && !st.isDirectory()) throw invalidParam(ctx, param, `${full} is not a directory`);
  if (kind === 'file' && !st.isFile()) throw invalidParam(ctx, param, `${full} is not a file`);
  return full;
}
