/**
 * containerd's snapshotter name -> the storage driver name dockerd shows for the same
 * kernel mechanism: tools compare `Driver` with "overlay2" (compose, Testcontainers, CI
 * scripts), and containerd's overlayfs snapshotter lays out what dockerd's overlay2 does
 * (multi-lower overlay mounts, one directory per layer).
 */
export function dockerStorageDriver(snapshotter: string | undefined): string {
  if (!snapshotter || snapshotter === 'overlayfs') return 'overlay2';
  return snapshotter;
}
