import { InvalidArgumentError } from '@drydock/errors';
import { MediaTypes, type ImageConfig, type ImageRunConfig, type Manifest } from '@drydock/oci-spec';

/**
 * Pure pieces of the image store: the blobs an import writes, and the Docker
 * API shapes (inspect, history) read back from them.
 */

/** containerd's GC reference labels (gc/ and metadata/gc.go). */
export const GC_LABELS = {
  contentConfig: 'containerd.io/gc.ref.content.config',
  contentLayer: (i: number) => `containerd.io/gc.ref.content.l.${i}`,
  contentManifest: (i: number) => `containerd.io/gc.ref.content.m.${i}`,
  snapshot: (snapshotter: string) => `containerd.io/gc.ref.snapshot.${snapshotter}`,
  expire: 'containerd.io/gc.expire',
  uncompressed: 'containerd.io/uncompressed',
} as const;

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** `linux`, `linux/amd64`, `linux/arm64/v8`; only linux is supported. Missing parts come from `fallback`. */
export function parsePlatform(s: string | undefined, fallback: PlatformSpec): PlatformSpec {
  if (!s) return fallback;
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new InvalidArgumentError(`"${s}": unknown operating system or architecture: invalid argument`);
  }
  if (parts[0] !== 'linux') throw new InvalidArgumentError(`operating system is not supported: ${parts[0]}`);
  const architecture = parts[1] === 'x86_64' || parts[1] === 'x86-64' ? 'amd64' : parts[1] === 'aarch64' ? 'arm64' : parts[1];
  return {
    os: 'linux',
    architecture: architecture ?? fallback.architecture,
    ...(parts[2] ? { variant: parts[2] } : parts[1] === undefined && fallback.variant ? { variant: fallback.variant } : {}),
  };
}

/** Drops empty fields the way Go's omitempty would, so stored configs stay small and OCI-clean. */
function compactRunConfig(c: ImageRunConfig): ImageRunConfig | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    // An explicit empty Cmd/Entrypoint means "run nothing" and must survive; other empty lists are omitempty.
    if (Array.isArray(v) && v.length === 0 && k !== 'Cmd' && k !== 'Entrypoint') continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return Object.keys(out).length ? (out as ImageRunConfig) : undefined;
}

/**
 * The config blob of `docker import`: moby's image_import.go writes the same
 * fields (comment at top level and in the one history entry, no created_by).
 */
export function importConfig(opts: { created: string; platform: PlatformSpec; runConfig: ImageRunConfig; diffId: string; comment: string }): ImageConfig {
  const runConfig = compactRunConfig(opts.runConfig);
  return {
    architecture: opts.platform.architecture,
    ...(opts.platform.variant ? { variant: opts.platform.variant } : {}),
    os: opts.platform.os,
    created: opts.created,
    comment: opts.comment,
    ...(runConfig ? { config: runConfig } : {}),
    rootfs: { type: 'layers', diff_ids: [opts.diffId] },
    history: [{ created: opts.created, comment: opts.comment }],
  };
}

/** One-layer OCI manifest with an uncompressed layer (see image-store.ts for why). */
export function importManifest(config: { digest: string; size: number }, layer: { digest: string; size: number }): Manifest {
  return {
    schemaVersion: 2,
    mediaType: MediaTypes.OciManifest,
    config: { mediaType: MediaTypes.OciConfig, digest: config.digest, size: config.size },
    layers: [{ mediaType: MediaTypes.OciLayer, digest: layer.digest, size: layer.size }],
  };
}

/** Docker's container.Config as `docker inspect` prints it for an image: every field present. */
export interface DockerRunConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: ImageRunConfig['Healthcheck'];
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

/** Fills an image's run config to the shape of Docker's inspect output (field order included). */
export function dockerRunConfig(c: ImageRunConfig | undefined): DockerRunConfig {
  const x = c ?? {};
  return {
    Hostname: x.Hostname ?? '',
    Domainname: x.Domainname ?? '',
    User: x.User ?? '',
    AttachStdin: x.AttachStdin ?? false,
    AttachStdout: x.AttachStdout ?? false,
    AttachStderr: x.AttachStderr ?? false,
    ...(x.ExposedPorts && Object.keys(x.ExposedPorts).length ? { ExposedPorts: x.ExposedPorts } : {}),
    Tty: x.Tty ?? false,
    OpenStdin: x.OpenStdin ?? false,
    StdinOnce: x.StdinOnce ?? false,
    Env: x.Env ?? null,
    Cmd: x.Cmd ?? null,
    ...(x.Healthcheck ? { Healthcheck: x.Healthcheck } : {}),
    ...(x.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: x.Image ?? '',
    Volumes: x.Volumes ?? null,
    WorkingDir: x.WorkingDir ?? '',
    Entrypoint: x.Entrypoint ?? null,
    OnBuild: x.OnBuild ?? null,
    Labels: x.Labels ?? null,
    ...(x.StopSignal ? { StopSignal: x.StopSignal } : {}),
    ...(x.Shell && x.Shell.length ? { Shell: x.Shell } : {}),
  };
}

/** One row of `docker history` (GET /images/{name}/history), newest first. */
export interface HistoryItem {
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/**
 * moby's ImageHistory: walks the config history oldest first, giving each
 * non-empty entry the size of the next layer; the newest row carries the
 * image id and tags, the others `<missing>` (they have no image of their own).
 */
export function historyItems(config: ImageConfig, layerSizes: number[], imageId: string, tags: string[]): HistoryItem[] {
  const rows: HistoryItem[] = [];
  let layer = 0;
  for (const h of config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) size = layerSizes[layer++] ?? 0;
    rows.unshift({
      Id: '<missing>',
      Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  if (rows.length > 0) {
    rows[0].Id = imageId;
    rows[0].Tags = tags.length ? tags : null;
  }
  return rows;
}

/** Parses JSON content, reporting which blob was bad. */
export function parseJsonBlob<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not valid JSON`, { cause: err });
  }
}
