/**
 * What an operation that streams an Engine body into a local file returns
 * (container_export, save_images, container_logs with `path`): the file
 * sink's report (src/files/file-sink.ts). The connector's own shape: closed.
 */
import * as z from 'zod';

export const fileWrittenFields = {
  path: z.string().describe('Absolute path of the file written (complete: it appears only once the whole body arrived)'),
  bytes: z.number().int().min(0).describe('Bytes written'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('SHA-256 of the file, lowercase hex'),
};

export const fileWritten = z.strictObject(fileWrittenFields);
