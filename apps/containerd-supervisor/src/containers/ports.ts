/**
 * Narrow interfaces the container domain depends on; main.ts wires the real
 * implementations (image store, log writer, event sink, spec builder).
 */
import type { supervisorV1 } from '@drydock/proto';
import type { ctrTypesMount } from '@drydock/proto';

export type Mount = ctrTypesMount.Mount;
import type { ContainerSpecRecord } from './record';
import type { RunSpecPatch } from './lifecycle-hooks';

/** The parts of an image a container needs. */
export interface ResolvedImage {
  /** "sha256:<config digest>" */
  id: string;
  /** containerd image name (e.g. docker.io/library/busybox:latest). */
  name: string;
  /** Chain id of the top layer: the parent of the container's snapshot. */
  chainId: string;
  config: ImageRuntimeConfig;
}

export interface ImageRuntimeConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
}

export interface ImageLookup {
  /** Resolves a reference; NotFoundError("No such image: x") when absent. */
  resolveImage(ref: string): Promise<ResolvedImage>;
}

export interface SnapshotOps {
  prepare(key: string, parent: string): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  remove(key: string): Promise<void>;
  /** Removes container snapshots none of `containerIds` owns (a crash's leftovers); the keys removed. */
  removeOrphans(containerIds: Set<string>): Promise<string[]>;
}

/** Local named volumes (see volumes/volume-store.ts). */
export interface VolumeOps {
  /** Directory holding every volume (`<name>/_data` each). */
  readonly root: string;
  /** Host directory of a volume's data. */
  dataPath(name: string): string;
  /** The volume, created if missing (Docker auto-creates on `-v name:/path`). */
  ensure(name: string): Promise<{ created: boolean }>;
  /** Whether the volume holds nothing yet (image content is copied up only then). */
  isEmpty(name: string): Promise<boolean>;
  /**
   * The driver of a volume mount: the named volume's own when `driver` is empty (else "local"),
   * or `driver`, whose volume is created when missing. Conflicts carry dockerd's texts.
   */
  driverFor(name: string, driver: string, driverOpts: Record<string, string>): Promise<string>;
}

/** Copies the image's content at a path into a new volume (Docker's copy-up), from the container's rootfs mounts. */
export interface VolumeSeeder {
  copyUp(rootfs: Mount[], containerPath: string, destDir: string): Promise<void>;
}

/** A running log writer process for one container run. */
export interface LogWriterHandle {
  pid: number;
  /** Tells the writer that the shim's FIFO writers are open (end of run = EOF from now on). */
  arm(): void;
  /** Stops the writer (the task could not be created). */
  abort(): void;
  /** Settles when the writer exits (it has appended the run's last output and its EOF record). Never rejects. */
  readonly exited: Promise<unknown>;
}

export interface LogWriterOptions {
  logPath: string;
  stdoutFifo: string;
  stderrFifo?: string;
  stdinFifo?: string;
  /** Keep stdin open for the run's lifetime (OpenStdin && !StdinOnce). */
  holdStdin: boolean;
}

export interface LogEntryOut {
  stream: 'stdout' | 'stderr';
  data: Buffer;
  timeNs: bigint;
  partial: boolean;
}

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
  tail?: number;
  follow: boolean;
  /** Start at the current end of the file (attach without logs). */
  fromEnd?: boolean;
  signal: AbortSignal;
  /** Consulted when the output ended or has not begun; may wait briefly for the exit. */
  isRunning: () => boolean | Promise<boolean>;
  /** How often a follower re-checks besides inotify wake-ups (default 250 ms). */
  pollIntervalMs?: number;
  /** A writer is known to run for this file (exec): an empty file is output still on the way. */
  awaitWriter?: boolean;
}

export interface LogBackend {
  spawnWriter(opts: LogWriterOptions): Promise<LogWriterHandle>;
  read(path: string, opts: LogReadOptions): AsyncIterable<LogEntryOut>;
}

/** Publishes Docker-shaped lifecycle events (after the change happened). */
export interface ContainerEvents {
  container(action: string, c: { id: string; name: string; image: string; labels: Record<string, string> }, extra?: Record<string, string>): void;
}

export interface SpecInput {
  record: ContainerSpecRecord;
  name: string;
  image: ResolvedImage;
  /** Rootfs mounts of the container's snapshot (to read /etc/passwd). */
  rootfs: Mount[];
  /** Host files generated for the container (/etc/hostname, hosts, resolv.conf). */
  files: { hostname: string; hosts: string; resolvConf: string };
  /** Directory holding named volumes. */
  volumesDir: string;
}

/** Builds the OCI runtime spec for a container (Docker's defaults + its config). */
export interface SpecBuilder {
  build(input: SpecInput): Promise<object>;
  /** The OCI process spec of an exec inside the container. */
  execProcess(containerSpec: object, exec: supervisorV1.CreateExecRequest, rootfs: Mount[]): Promise<object>;
  /** Validates Memory/CPU values with dockerd's texts (throws InvalidArgumentError). */
  validateHostConfig(hc: supervisorV1.HostConfig): void;
  /** Applies updated resources to an existing spec. */
  withResources(spec: object, hc: supervisorV1.HostConfig): object;
  /**
   * The spec of one run: the container's record with a hook's patch (RunSpecPatch). Its
   * environment is made again from the record each time, so variables of an earlier run's
   * patch (a removed link's) do not stay.
   */
  forRun(spec: object, record: ContainerSpecRecord, patch: RunSpecPatch): object;
  /** LinuxResources of a spec, for Tasks.Update. */
  resources(spec: object): object;
}

/**
 * Names beyond this node: in a cluster a name is unique across every node (a KV key taken
 * atomically); on one node there is nothing to take (LOCAL_NAMES). The local check runs first.
 */
export interface NameRegistry {
  /**
   * Takes `name` for container `id`. Resolves undefined when taken (or already held by it),
   * the holder's id when another container holds it; throws when it cannot say (NATS down).
   */
  take(name: string, id: string): Promise<string | undefined>;
  /** Gives `name` back if `id` holds it; never throws (a leftover is cleaned up at reconcile). */
  release(name: string, id: string): Promise<void>;
}

export const LOCAL_NAMES: NameRegistry = { take: async () => undefined, release: async () => undefined };
