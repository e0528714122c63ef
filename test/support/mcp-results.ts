import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { expect } from 'vitest';

export type CallResult = Awaited<ReturnType<Client['callTool']>>;

/** A tool error's error: text only ("CODE: message", then the JSON {"error": …}), no structured content to clash with outputSchema. */
export function errorOf(r: CallResult): { code: string; message: string; details?: Record<string, unknown> } {
  expect(r.isError).toBe(true);
  expect(r.structuredContent).toBeUndefined();
  return (JSON.parse((r.content as { text: string }[])[1]!.text) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;
}

/** A successful tool call's structured content. */
export function ok<T = Record<string, unknown>>(r: CallResult): T {
  if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
  return r.structuredContent as T;
}
