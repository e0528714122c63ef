/**
 * The shapes of evidence bundles: collect_evidence's and verify_evidence's
 * results, and the `evidence` list remove_container, kill_container and the
 * container prunes gain when evidence_before_destroy is set. The
 * connector's own shapes: closed.
 */
import * as z from 'zod';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** What a bundle can hold, in the order it is collected. `image` gives two files: the image's inspect and its history. */
export const EVIDENCE_KINDS = ['inspect', 'top', 'changes', 'logs', 'stats', 'export', 'image', 'networks'] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

export const evidenceArtifact = z.strictObject({
  name: z.string().describe('What it is: inspect, top, changes, logs, stats, export, image, image_history, networks'),
  file: z.string().describe('Its file, relative to the bundle folder'),
  bytes: z.number().int().min(0).describe('Bytes in the file'),
  sha256: sha256Hex.describe('SHA-256 of the file, lowercase hex, computed while it was written'),
});

export const collectEvidenceResult = z.strictObject({
  path: z.string().describe('Absolute path of the bundle folder'),
  manifest_sha256: sha256Hex.describe("SHA-256 of manifest.json's bytes (also in the call's audit line): keep it to prove later that the bundle is the one collected"),
  artifacts: z.array(evidenceArtifact).describe('The artifacts written, in the order collected'),
  failed: z
    .array(
      z.strictObject({
        name: z.string().describe('The artifact'),
        code: z.string().describe('The error code (e.g. CONFLICT for `top` of a stopped container)'),
        message: z.string().describe('Why it could not be collected'),
      }),
    )
    .describe('Artifacts that could not be collected (also recorded in the manifest with their error); [] when none'),
  bytes: z.number().int().min(0).describe('Bytes in the bundle: every artifact plus manifest.json'),
});
export type CollectEvidenceResult = z.output<typeof collectEvidenceResult>;

export const verifyEvidenceResult = z.strictObject({
  ok: z.boolean().describe('Every artifact the manifest lists is present with its recorded hash (and the manifest has the expected hash, when one was given)'),
  checked: z.number().int().min(0).describe('Artifacts checked (those the manifest records with a hash)'),
  mismatches: z
    .array(
      z.strictObject({
        file: z.string().describe('The file, relative to the bundle folder, as in the manifest ("manifest.json" for the manifest itself)'),
        expected: z.string().describe('The SHA-256 recorded'),
        actual: z.string().nullable().describe('The SHA-256 found; null when the manifest names a file outside the bundle folder'),
      }),
    )
    .describe('Files whose content differs from what was recorded'),
  missing: z.array(z.string()).describe('Files the manifest lists that are not there (relative to the bundle folder)'),
  manifest_sha256: sha256Hex.describe("SHA-256 of manifest.json's bytes as found"),
});
export type VerifyEvidenceResult = z.output<typeof verifyEvidenceResult>;

/** One bundle collected before a destructive call acted. */
export const evidenceRecord = z.strictObject({
  container: z.string().describe('Full id of the container'),
  path: z.string().describe('The bundle folder: <dir>/<container id>-<UTC time>'),
  manifest_sha256: sha256Hex.describe("SHA-256 of the bundle's manifest.json"),
});
export type EvidenceRecord = z.output<typeof evidenceRecord>;

/** The optional `evidence` field of remove_container, kill_container, prune_containers and system_prune results. */
export const evidenceList = z
  .array(evidenceRecord)
  .optional()
  .describe('With evidence_before_destroy configured (not for dry runs): the evidence bundle collected of each container before it was touched');
