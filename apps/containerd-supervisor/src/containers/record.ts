import type { supervisorV1 } from '@drydock/proto';

/**
 * What Drydock keeps about a container, stored in containerd's container
 * record (extensions), so that a supervisor restart loses nothing.
 * `spec` is what was asked at create; `state` changes over the container's life.
 */
export interface ContainerSpecRecord {
  id: string;
  /** Creation time, ns since the epoch (decimal string: JSON has no 64-bit ints). */
  createdNs: string;
  /** Image as the user gave it, and the resolved image id / containerd image name. */
  image: string;
  imageId: string;
  imageName: string;
  /** Process resolved at create from the image config and the request. */
  path: string;
  args: string[];
  config: supervisorV1.ContainerConfig;
  hostConfig: supervisorV1.HostConfig;
  /** NetworkingConfig.EndpointsConfig of the create request (network name or id -> settings). */
  endpoints?: Record<string, supervisorV1.EndpointConfig>;
}

export interface ContainerStateRecord {
  startedAtNs?: string;
  finishedAtNs?: string;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  restartCount: number;
  /** Set by docker stop/kill so `always`/`unless-stopped` do not restart it. */
  manuallyStopped: boolean;
  /**
   * The run ended and the restart policy starts the container again (dockerd's
   * State.Restarting): set in the same step as the exit is recorded, cleared
   * when the next run starts or a stop cancels it. Persisted, so a supervisor
   * that dies during the back-off carries the restart out on boot. Absent in
   * records written before it existed (= false).
   */
  restarting?: boolean;
  /** Directory of the current run's FIFOs, so a new supervisor can reopen stdin. */
  ioDir?: string;
}

export const initialState = (): ContainerStateRecord => ({ exitCode: 0, oomKilled: false, error: '', restartCount: 0, manuallyStopped: false });

/** containerd label with the container's name (labels are indexed by containerd filters). */
export const NAME_LABEL = 'io.drydock.container.name';
export const SPEC_EXTENSION = 'io.drydock.container.spec';
export const STATE_EXTENSION = 'io.drydock.container.state';
export const EXTENSION_TYPE_URL = 'types.drydock.io/container/v1';
export const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

export function nowNs(): string {
  return (BigInt(Date.now()) * 1000000n + process.hrtime.bigint() % 1000000n).toString();
}

export function nsToTimestamp(ns: string | undefined): { seconds: string; nanos: number } | undefined {
  if (!ns) return undefined;
  const n = BigInt(ns);
  return { seconds: (n / 1000000000n).toString(), nanos: Number(n % 1000000000n) };
}

export function timestampToNs(ts: { seconds?: string; nanos?: number } | undefined): string | undefined {
  if (!ts || (!ts.seconds && !ts.nanos)) return undefined;
  return (BigInt(ts.seconds ?? '0') * 1000000000n + BigInt(ts.nanos ?? 0)).toString();
}
