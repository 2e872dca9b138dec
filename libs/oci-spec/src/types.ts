/**
 * OCI runtime-spec (1.0.2) and image-spec types, plus the Docker image media types.
 *
 * Field names are the JSON names of the specs, so a value of these types serialises straight to a
 * runtime bundle's config.json or to an image manifest/config blob. Optional fields follow the specs'
 * `omitempty`: leave them undefined rather than writing `false`, `0` or `[]` where the Go structs
 * would omit them, so that our JSON matches what Docker and containerd write byte for byte.
 */

/** The runtime-spec version Docker Engine 20.10 writes into `ociVersion`. */
export const OCI_RUNTIME_SPEC_VERSION = '1.0.2-dev';

// ---------------------------------------------------------------------------------------------
// Runtime spec
// ---------------------------------------------------------------------------------------------

/** A runtime bundle's config.json (Linux subset; hooks are not used by Drydock). */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** The container's init process. */
export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  env?: string[];
  /** Absolute path inside the container; required by the spec. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

/** Terminal size in characters. */
export interface Box {
  height: number;
  width: number;
}

/** Numeric identity the process runs as (names are resolved before the spec is written). */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  /** Docker puts the primary gid first, then the supplementary groups. */
  additionalGids?: number[];
}

/** Capability sets as `CAP_*` names. */
export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** One resource limit, `type` like `RLIMIT_NOFILE`. */
export interface POSIXRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** The container's root filesystem; `path` is relative to the bundle or absolute. */
export interface Root {
  path: string;
  readonly?: boolean;
}

/** One mount, applied in array order. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface Linux {
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  /** cgroupfs: an absolute path like `/drydock/<id>`; systemd: `slice:prefix:name`. */
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  seccomp?: unknown;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export type LinuxNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

/** A namespace to create (no `path`) or to join (`path` to an nsfs file). */
export interface LinuxNamespace {
  type: LinuxNamespaceType;
  path?: string;
}

/** A device node to create in the container's /dev. */
export interface LinuxDevice {
  path: string;
  /** `c`, `b`, `u` or `p`. */
  type: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One devices-cgroup rule; a missing type/major/minor means "all". */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  /** memory+swap limit (cgroup v1 memsw), not swap alone. */
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
}

export interface LinuxPids {
  /** -1 or a positive number; 0 is not valid for runc. */
  limit: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
}

// ---------------------------------------------------------------------------------------------
// Image spec
// ---------------------------------------------------------------------------------------------

/** Docker's HealthConfig; durations are nanoseconds, 0 meaning "inherit/default". */
export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disabled, `["CMD", ...]` exec, `["CMD-SHELL", cmd]` shell. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/**
 * The `config` object of an image config (OCI `ImageConfig`, a subset of Docker's container.Config).
 * `Entrypoint` and `Cmd` distinguish `null`/absent ("not set", inherit) from `[]` ("set to nothing").
 */
export interface ImageRunConfig {
  User?: string;
  /** Keys like `80/tcp`; values are always `{}`. */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** `KEY=value` entries in order. */
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  OnBuild?: string[] | null;
  Healthcheck?: HealthConfig;
  Shell?: string[] | null;
  // Fields Docker also writes into image configs (container.Config); carried through untouched.
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
}

/** One entry of an image config's history (empty_layer entries have no diff_id). */
export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** rootfs of an image config: the uncompressed layer digests, lowest first. */
export interface RootFS {
  type: 'layers';
  diff_ids: string[];
}

/**
 * An image config blob (`application/vnd.oci.image.config.v1+json` or Docker's
 * `application/vnd.docker.container.image.v1+json`, which adds the legacy fields at the end).
 */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config?: ImageRunConfig;
  rootfs: RootFS;
  history?: History[];
  // Docker (v1 image) legacy fields.
  id?: string;
  parent?: string;
  comment?: string;
  container?: string;
  container_config?: ImageRunConfig;
  docker_version?: string;
  size?: number;
}

/** Platform of an index entry. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

/** A content descriptor: what a blob is, its digest and size in bytes. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** An image manifest (OCI, or Docker schema2 when mediaType says so). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image index (OCI) or Docker manifest list. */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** Media types Drydock reads and writes. */
export const MediaTypes = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export type MediaType = (typeof MediaTypes)[keyof typeof MediaTypes];

/** True for manifest media types (single-platform image). */
export function isManifestMediaType(mt: string): boolean {
  return mt === MediaTypes.DockerManifest || mt === MediaTypes.OciManifest;
}

/** True for index / manifest-list media types (multi-platform image). */
export function isIndexMediaType(mt: string): boolean {
  return mt === MediaTypes.DockerManifestList || mt === MediaTypes.OciIndex;
}

/** True for layer media types, compressed or not. */
export function isLayerMediaType(mt: string): boolean {
  return (
    mt === MediaTypes.DockerLayer ||
    mt === MediaTypes.DockerLayerGzip ||
    mt === MediaTypes.DockerForeignLayerGzip ||
    mt === MediaTypes.OciLayer ||
    mt === MediaTypes.OciLayerGzip ||
    mt === MediaTypes.OciLayerZstd
  );
}
