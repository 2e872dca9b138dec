import type { supervisorV1 } from '@drydock/proto';

type Timestamp = { seconds?: string; nanos?: number } | undefined;

/** Go's zero time as dockerd prints it. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function unixSeconds(t: Timestamp): number {
  return t?.seconds ? Number(t.seconds) : 0;
}

/** RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's time.RFC3339Nano. */
export function rfc3339Nano(t: Timestamp): string {
  if (!t?.seconds) return ZERO_TIME;
  const base = new Date(Number(t.seconds) * 1000).toISOString().replace(/\.\d+Z$/, '');
  const frac = String(t.nanos ?? 0).padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? '.' + frac : ''}Z`;
}

const nullIfEmpty = <T>(a: T[] | undefined): T[] | null => (a && a.length > 0 ? a : null);
const mapOrNull = (m: Record<string, string> | undefined): Record<string, string> | null => (m && Object.keys(m).length > 0 ? m : null);
const setOf = (keys: string[] | undefined): Record<string, object> | null => (keys && keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, {}])) : null);

/**
 * `docker images` rows as dockerd 20.10 builds them (daemon/images/images.go):
 * an image with neither tag nor digest is shown as `<none>:<none>` /
 * `<none>@<none>`; otherwise the missing list is null. ParentId is empty for
 * imported and pulled images; SharedSize and Containers are -1 unless computed
 * (system df).
 */
export function toImageSummary(img: supervisorV1.ImageSummary, extra?: { sharedSize: number; containers: number }): Record<string, unknown> {
  const tags = img.repoTags ?? [];
  const digests = img.repoDigests ?? [];
  const untagged = tags.length === 0 && digests.length === 0;
  const size = Number(img.size ?? 0);
  return {
    Containers: extra ? extra.containers : -1,
    Created: unixSeconds(img.created),
    Id: img.id ?? '',
    Labels: mapOrNull(img.labels),
    ParentId: '',
    RepoDigests: untagged ? ['<none>@<none>'] : nullIfEmpty(digests),
    RepoTags: untagged ? ['<none>:<none>'] : nullIfEmpty(tags),
    SharedSize: extra ? extra.sharedSize : -1,
    Size: size,
    VirtualSize: size,
  };
}

/** container.Config as dockerd serialises an image's Config (field order and omitempty as in moby). */
export function toDockerConfig(c: supervisorV1.ImageConfig | undefined): Record<string, unknown> {
  const exposed = setOf(c?.exposedPorts);
  return {
    Hostname: '',
    Domainname: '',
    User: c?.user ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(exposed ? { ExposedPorts: exposed } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: nullIfEmpty(c?.env),
    Cmd: nullIfEmpty(c?.cmd),
    Image: '',
    Volumes: setOf(c?.volumes),
    WorkingDir: c?.workingDir ?? '',
    Entrypoint: nullIfEmpty(c?.entrypoint),
    OnBuild: null,
    Labels: mapOrNull(c?.labels),
    ...(c?.stopSignal ? { StopSignal: c.stopSignal } : {}),
  };
}

type RawConfig = Record<string, unknown>;

/** container.Config as dockerd prints it, from an image config blob's `config`/`container_config` (every field, Go's order). */
export function dockerConfigFromBlob(x: RawConfig | undefined): Record<string, unknown> {
  const c = x ?? {};
  const has = (k: string) => c[k] !== undefined && c[k] !== null;
  const nonEmptyObj = (k: string) => has(k) && typeof c[k] === 'object' && Object.keys(c[k] as object).length > 0;
  return {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
    ...(nonEmptyObj('ExposedPorts') ? { ExposedPorts: c.ExposedPorts } : {}),
    Tty: c.Tty ?? false,
    OpenStdin: c.OpenStdin ?? false,
    StdinOnce: c.StdinOnce ?? false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...(has('Healthcheck') ? { Healthcheck: c.Healthcheck } : {}),
    ...(c.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: c.Image ?? '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(Array.isArray(c.Shell) && c.Shell.length ? { Shell: c.Shell } : {}),
  };
}

function parseBlob(b: Uint8Array | undefined): RawConfig | undefined {
  if (!b || b.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(b).toString('utf8')) as RawConfig;
  } catch {
    return undefined;
  }
}

/**
 * types.ImageInspect of API 1.41. RepoTags/RepoDigests are never null there.
 * The supervisor does not report the parent, build container, docker version
 * or last tag time (imports and pulls have none of the first three).
 */
export function toImageInspect(i: supervisorV1.InspectImageResponse, graphDriver: string): Record<string, unknown> {
  const size = Number(i.size ?? 0);
  const blob = parseBlob(i.configJson);
  return {
    Id: i.id ?? '',
    RepoTags: i.repoTags ?? [],
    RepoDigests: i.repoDigests ?? [],
    Parent: i.parent ?? '',
    Comment: i.comment ?? '',
    Created: rfc3339Nano(i.created),
    Container: (blob?.container as string | undefined) ?? '',
    ContainerConfig: blob ? dockerConfigFromBlob(blob.container_config as RawConfig | undefined) : toDockerConfig(undefined),
    DockerVersion: (blob?.docker_version as string | undefined) ?? '',
    Author: i.author ?? '',
    Config: blob ? dockerConfigFromBlob(blob.config as RawConfig | undefined) : toDockerConfig(i.config),
    Architecture: i.architecture ?? '',
    Os: i.os ?? '',
    Size: size,
    VirtualSize: size,
    GraphDriver: { Data: null, Name: graphDriver },
    RootFS: { Type: 'layers', Layers: i.diffIds ?? [] },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}

/** image.HistoryResponseItem rows, newest first. */
export function toHistory(rows: supervisorV1.ImageHistoryRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    Comment: r.comment ?? '',
    Created: Number(r.created ?? 0),
    CreatedBy: r.createdBy ?? '',
    Id: r.id ?? '<missing>',
    Size: Number(r.size ?? 0),
    Tags: nullIfEmpty(r.tags),
  }));
}

/** ImageDeleteResponseItem list: untags first, then deletions, as dockerd reports them. */
export function toDeleteItems(untagged: string[] | undefined, deleted: string[] | undefined): Record<string, string>[] {
  return [...(untagged ?? []).map((u) => ({ Untagged: u })), ...(deleted ?? []).map((d) => ({ Deleted: d }))];
}

/** types.Volume of API 1.41; UsageData only when computed (system df). */
export function toDockerVolume(v: supervisorV1.Volume | undefined, withUsage = false): Record<string, unknown> {
  return {
    CreatedAt: v?.createdAt ?? '',
    Driver: v?.driver || 'local',
    Labels: v?.labels ?? {},
    Mountpoint: v?.mountpoint ?? '',
    Name: v?.name ?? '',
    Options: v?.options ?? {},
    Scope: v?.scope || 'local',
    ...(v?.statusJson ? { Status: JSON.parse(v.statusJson) as unknown } : {}),
    ...(withUsage ? { UsageData: { RefCount: v?.refCount ?? -1, Size: Number(v?.size ?? -1) } } : {}),
  };
}
