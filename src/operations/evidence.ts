/**
 * Forensic evidence: collect_evidence writes a bundle of a container (one
 * hashed file per artifact, manifest.json last), verify_evidence checks a
 * bundle against its manifest. The collector is shared
 * (shared/evidence-bundle.ts): evidence_before_destroy uses it too.
 */
import * as z from 'zod';
import { defineOperation } from './define.js';
import { collectEvidenceBundle } from './shared/evidence-bundle.js';
import { collectEvidenceResult, EVIDENCE_KINDS, verifyEvidenceResult } from './shared/evidence-schemas.js';
import { verifyEvidenceBundle } from './shared/evidence-verify.js';
import { localPathParam } from './shared/local-files.js';
import { containerRef, timePointParam } from './shared/params.js';

const recordedText = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => !/[\0-\x1f]/.test(s), 'must not contain control characters');

export const collectEvidence = defineOperation({
  name: 'collect_evidence',
  localPaths: ['path'],
  category: 'containers',
  title: 'Collect forensic evidence of a container',
  description:
    'Writes an evidence bundle of a container into a new local folder: inspect.json, top.json (process list), changes.json (file-system changes), logs.txt (stdout and stderr with timestamps), stats.json (one sample), export.tar (the file system), image.json and image-history.json, networks.json (the networks it is attached to). ' +
    'Each file is streamed to disk and hashed (SHA-256) while written, under a temporary name until complete; manifest.json, written last, records the case, operator, times (UTC), tool, Engine, container, Swarm service and task (when it is a task) and every artifact with its hash or the error that kept it from being collected. ' +
    'Only a failed inspect fails the call. The container\'s state is left as it was; `pause` freezes a running container while its file system and process list are read.',
  params: z
    .object({
      container: containerRef,
      path: localPathParam.describe('Local folder to create for the bundle (its parent must exist); refused if it exists and is not empty'),
      case_id: recordedText.optional().describe('Case or incident id, recorded in the manifest'),
      operator: recordedText.optional().describe('Who collects (person or playbook), recorded in the manifest'),
      include: z
        .array(z.enum(EVIDENCE_KINDS))
        .min(1)
        .refine((l) => new Set(l).size === l.length, 'each artifact at most once')
        .optional()
        .describe(`The artifacts to collect (default: all): ${EVIDENCE_KINDS.join(', ')}`),
      logs_since: timePointParam.optional().describe('Logs only after this time, as container_logs\' `since` (default: the whole log)'),
      pause: z.boolean().default(false).describe('Freeze a running container while its file system and process list are read, then unpause it (a container paused before stays paused)'),
    })
    .strict(),
  safety: 'read',
  // Sent again after a lost connection, the Engine reads are harmless; the pause is never repeated (see the collector).
  idempotent: true,
  streaming: true,
  auditResult: ['manifest_sha256', 'path'],
  result: '{path, manifest_sha256, artifacts: [{name, file, bytes, sha256}], failed: [{name, code, message}], bytes}',
  resultSchema: collectEvidenceResult,
  async run(ctx, p) {
    const { container_id: _id, container_running: _running, ...result } = await collectEvidenceBundle(ctx, p);
    return result;
  },
});

export const verifyEvidence = defineOperation({
  name: 'verify_evidence',
  localPaths: ['path'],
  local: true,
  category: 'containers',
  title: 'Verify an evidence bundle',
  description:
    'Hashes every file an evidence bundle\'s manifest.json lists and compares it with the recorded SHA-256. A changed or missing file is reported (ok: false), not an error. ' +
    'Give `manifest_sha256` (from collect_evidence\'s result or its audit line) to also detect a manifest rewritten to match altered files. Reads local files only: no Engine call.',
  params: z
    .object({
      path: localPathParam.describe('The bundle folder (the one holding manifest.json)'),
      manifest_sha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/, 'expected a SHA-256 in hex (64 characters)')
        .optional()
        .describe('The SHA-256 the manifest had when collected: a different manifest turns ok false'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{ok, checked, mismatches: [{file, expected, actual}], missing: [files], manifest_sha256}',
  resultSchema: verifyEvidenceResult,
  async run(_ctx, p) {
    return verifyEvidenceBundle(p.path, p.manifest_sha256);
  },
});

export const evidenceOperations = [collectEvidence, verifyEvidence] as const;
