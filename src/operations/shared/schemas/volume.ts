/**
 * The Engine's volume object (GET /volumes, GET /volumes/{name}, POST
 * /volumes/create, GET /system/df): the documented fields of the Engine
 * API's `Volume`. Open objects (z.object): newer Engines add fields. Both
 * Engines send `null` for empty Labels and Options.
 */
import * as z from 'zod';
import { stringMap } from './common.js';


/** A swarm cluster volume's state (only on swarm managers, for cluster volumes). */
export const clusterVolume = z
  .object({
    ID: z.string().optional().describe('Swarm id of the volume'),
    Version: z.object({ Index: z.number().int().optional() }).optional().describe('Object version, for updates'),
    CreatedAt: z.string().optional().describe('Creation time, RFC 3339'),
    UpdatedAt: z.string().optional().describe('Last update time, RFC 3339'),
    Spec: z.object({}).optional().describe('The cluster volume spec (group, access mode, secrets, capacity, availability)'),
    Info: z
      .object({
        CapacityBytes: z.number().int().optional(),
        VolumeContext: stringMap.nullable().optional(),
        VolumeID: z.string().optional(),
        AccessibleTopology: z.array(z.object({})).nullable().optional(),
      })
      .optional()
      .describe("The CSI plugin's information about the volume"),
    PublishStatus: z
      .array(
        z.object({
          NodeID: z.string().optional(),
          State: z.string().optional().describe('"pending-publish", "published", "pending-node-unpublish" or "pending-controller-unpublish"'),
          PublishContext: stringMap.nullable().optional(),
        }),
      )
      .nullable()
      .optional()
      .describe('Where the volume is published'),
  });

export const volume = z.object({
  Name: z.string().describe('Volume name'),
  Driver: z.string().describe('Volume driver, e.g. "local"'),
  Mountpoint: z.string().describe('Where the volume lives on the Engine host'),
  CreatedAt: z.string().optional().describe('Creation time, RFC 3339 (left out by drivers that do not know it)'),
  // Free-form: each volume driver reports what it wants.
  Status: z.record(z.string(), z.unknown()).nullable().optional().describe("Low-level details from the volume driver (only drivers that report status)"),
  Labels: stringMap.nullable().describe('Labels (null when none)'),
  Scope: z.string().describe('"local" (this machine) or "global" (cluster-wide)'),
  ClusterVolume: clusterVolume.nullable().optional().describe('Swarm managers, cluster volumes only: the cluster state of the volume'),
  Options: stringMap.nullable().describe('Driver options the volume was created with (null when none)'),
  UsageData: z
    .object({
      Size: z.number().int().describe('Bytes used (-1: not available, e.g. another driver than local)'),
      RefCount: z.number().int().describe('Containers referring to the volume (-1: not available)'),
    })
    .nullable()
    .optional()
    .describe('Only in system_df: disk use and reference count'),
});
export type Volume = z.output<typeof volume>;
