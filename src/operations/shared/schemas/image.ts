/**
 * The Engine's image objects (GET /images/json, GET /images/{name}/json,
 * GET /images/{name}/history) as result schemas. Open objects: newer Engines
 * add fields. Engine 20.10 sends null for an empty list or map (RepoTags,
 * RepoDigests, Labels, Env, …), and from API 1.52 the Engine leaves unset
 * fields out: hence the generous `.nullable()` and `.optional()`.
 */
import * as z from 'zod';
import { strings, stringMap, emptyObjectSet } from './common.js';

/** `{"<key>": {}}`: the Engine's set of ports or paths. */

export const ociPlatform = z
  .object({
    architecture: z.string().optional().describe('CPU architecture, e.g. "amd64"'),
    os: z.string().optional().describe('Operating system, e.g. "linux"'),
    'os.version': z.string().optional().describe('Operating system version (Windows)'),
    'os.features': strings.optional().describe('Required OS features (Windows)'),
    variant: z.string().optional().describe('CPU variant, e.g. "v7"'),
  })
  .describe('An OCI platform');

export const ociDescriptor = z
  .object({
    mediaType: z.string().optional().describe('Media type of the target'),
    digest: z.string().optional().describe('Digest of the target, "sha256:…"'),
    size: z.number().int().optional().describe('Size of the target in bytes'),
    urls: strings.nullable().optional().describe('URLs the target may be downloaded from'),
    annotations: stringMap.nullable().optional().describe('Annotations of the target'),
    data: z.string().nullable().optional().describe('The target embedded, base64'),
    platform: ociPlatform.nullable().optional(),
    artifactType: z.string().nullable().optional().describe('Media type of the artifact'),
  })
  .describe('An OCI content descriptor');

export const imageManifestSummary = z
  .object({
    ID: z.string().describe('Digest of the manifest'),
    Descriptor: ociDescriptor,
    Available: z.boolean().describe('All of its content (config, layers) is present locally'),
    Size: z.object({
      Total: z.number().int().describe('Bytes of everything local related to this manifest'),
      Content: z.number().int().describe('Bytes of its blobs in the content store'),
    }),
    Kind: z.string().describe('"image", "attestation" or "unknown"'),
    ImageData: z
      .object({
        Platform: ociPlatform,
        Containers: strings.describe('Ids of the containers using this manifest'),
        Size: z.object({ Unpacked: z.number().int().describe('Bytes of the unpacked layers') }),
      })
      .nullable()
      .optional()
      .describe('Only for Kind "image"'),
    AttestationData: z
      .object({ For: z.string().describe('Digest of the image manifest the attestation is for') })
      .nullable()
      .optional()
      .describe('Only for Kind "attestation"'),
  })
  .describe('One manifest of a (multi-platform) image; containerd image store only');

export const healthConfig = z
  .object({
    Test: strings.nullable().optional().describe('[] inherit, ["NONE"] disabled, ["CMD", args…] or ["CMD-SHELL", command]'),
    Interval: z.number().int().optional().describe('Nanoseconds between checks (0: inherit)'),
    Timeout: z.number().int().optional().describe('Nanoseconds a check may take (0: inherit)'),
    Retries: z.number().int().optional().describe('Consecutive failures that make the container unhealthy'),
    StartPeriod: z.number().int().optional().describe('Nanoseconds of start-up grace'),
    StartInterval: z.number().int().optional().describe('API 1.44+: nanoseconds between checks during the start period'),
  })
  .describe('Health check settings');

/**
 * The image's default container settings. Engines before API 1.45 send a
 * whole container config here (Hostname, Tty, …: allowed, the object is
 * open); API 1.52+ leaves unset fields out.
 */
export const imageConfig = z
  .object({
    User: z.string().optional().describe('User commands run as'),
    ExposedPorts: emptyObjectSet.nullable().optional().describe('{"<port>/<proto>": {}}'),
    Env: strings.nullable().optional().describe('["NAME=value"]'),
    Cmd: strings.nullable().optional().describe('Default command'),
    Healthcheck: healthConfig.nullable().optional(),
    ArgsEscaped: z.boolean().nullable().optional().describe('The command is already escaped (Windows)'),
    Volumes: emptyObjectSet.nullable().optional().describe('{"<path in the container>": {}}'),
    WorkingDir: z.string().optional().describe('Working directory of commands'),
    Entrypoint: strings.nullable().optional().describe('Entry point'),
    OnBuild: strings.nullable().optional().describe('ONBUILD instructions'),
    Labels: stringMap.nullable().optional().describe('Labels'),
    StopSignal: z.string().nullable().optional().describe('Signal that stops the container'),
    Shell: strings.nullable().optional().describe('Shell of shell-form RUN, CMD and ENTRYPOINT'),
  })
  .describe("The image's default settings for containers");

/** An entry of GET /images/json. */
export const imageSummary = z.object({
  Id: z.string().describe('Image id, "sha256:…"'),
  ParentId: z.string().describe('Id of the parent image ("" when none, e.g. pulled images)'),
  RepoTags: strings.nullable().describe('"repo:tag" references; [] or null when untagged'),
  RepoDigests: strings.nullable().describe('"repo@sha256:…" references; [] or null when none (only filled with `digests` on old Engines)'),
  Created: z.number().int().describe('Creation time, unix seconds'),
  Size: z.number().int().describe('Bytes of all its layers'),
  SharedSize: z.number().int().describe('Bytes shared with other images; -1 when not computed'),
  VirtualSize: z.number().int().optional().describe('Until API 1.43: same as Size (gone from API 1.44)'),
  Labels: stringMap.nullable().describe('Labels; null when none'),
  Containers: z.number().int().describe('Containers using it; -1 when not computed (computed by default from API 1.51)'),
  Manifests: z.array(imageManifestSummary).optional().describe('API 1.47+, containerd image store: its manifests'),
  Descriptor: ociDescriptor.nullable().optional().describe('API 1.48+, containerd image store: descriptor of the image target'),
});

/** GET /images/{name}/json. */
export const imageInspect = z.object({
  Id: z.string().describe('Image id, "sha256:…" (digest of its config)'),
  RepoTags: strings.nullable().describe('"repo:tag" references; [] (or null) when untagged'),
  RepoDigests: strings.nullable().describe('"repo@sha256:…" manifest references; [] (or null) when none'),
  Parent: z.string().optional().describe('Parent image id (classic builder only; "" when none). API 1.52+ leaves it out when empty; no longer in the API 1.56 reference'),
  Comment: z.string().nullable().optional().describe('Commit or import message. API 1.52+ leaves it out when empty'),
  Created: z.string().nullable().optional().describe('Creation time, RFC 3339 with nanoseconds; absent when the image has none'),
  Container: z.string().optional().describe('Until API 1.44: the container the image was committed from (gone from API 1.45)'),
  ContainerConfig: imageConfig.nullable().optional().describe("Until API 1.44: that container's config (gone from API 1.45)"),
  DockerVersion: z.string().optional().describe('Engine version that built it (classic builder only). API 1.52+ leaves it out when empty; no longer in the API 1.56 reference'),
  Author: z.string().nullable().optional().describe('Author (MAINTAINER, commit --author). API 1.52+ leaves it out when empty'),
  Config: imageConfig.nullable().optional().describe("The image's default settings for containers (Cmd, Env, Entrypoint, Labels, …)"),
  Architecture: z.string().describe('CPU architecture, e.g. "amd64"'),
  Variant: z.string().nullable().optional().describe('CPU variant, e.g. "v7" (ARM)'),
  Os: z.string().describe('Operating system, e.g. "linux"'),
  OsVersion: z.string().nullable().optional().describe('Operating system version (Windows)'),
  Size: z.number().int().describe('Bytes of all its layers'),
  VirtualSize: z.number().int().optional().describe('Until API 1.43: same as Size (gone from API 1.44)'),
  GraphDriver: z
    .object({
      Name: z.string().describe('Storage driver, e.g. "overlay2"'),
      Data: stringMap.nullable().describe('Driver-specific details (directories, …)'),
    })
    .nullable()
    .optional()
    .describe('Storage driver data; absent with the containerd image store'),
  RootFS: z
    .object({
      Type: z.string().describe('"layers"'),
      Layers: strings.optional().describe('Layer digests, base first'),
    })
    .describe('Its layers'),
  Metadata: z
    .object({ LastTagTime: z.string().nullable().optional().describe('When it was last tagged locally, RFC 3339') })
    .optional()
    .describe('Local metadata, not part of the image'),
  Descriptor: ociDescriptor.nullable().optional().describe('API 1.48+, containerd image store: descriptor of the image target'),
  Manifests: z.array(imageManifestSummary).nullable().optional().describe('API 1.48+, containerd image store, when asked for: its manifests'),
  Identity: z.object({}).nullable().optional().describe('API 1.53+: trusted identity and origin of the image (build, pull, signatures)'),
});

/** An entry of GET /images/{name}/history, newest first. */
export const historyResponseItem = z.object({
  Id: z.string().describe('Layer image id, or "<missing>" for a layer built elsewhere'),
  Created: z.number().int().describe('Creation time, unix seconds'),
  CreatedBy: z.string().describe('The instruction that made the layer'),
  Tags: strings.nullable().describe('References of that layer image; null when none'),
  Size: z.number().int().describe('Bytes the layer adds'),
  Comment: z.string().describe('Comment'),
});
