import type { ImageDiskUsage } from '../images';
import type { VolumeInfo } from '../volumes/volume-store';

/** docker system df, in bytes. */
export interface DiskUsage {
  /** All unpacked layers, each counted once. */
  layersSize: number;
  images: { id: string; size: number; sharedSize: number; containers: number }[];
  /** Writable layer of each container. */
  containers: { id: string; sizeRw: number }[];
  volumes: { volume: VolumeInfo; refCount: number; size: number }[];
}

export interface DiskUsageSources {
  images: { diskUsage(): Promise<ImageDiskUsage> };
  containers: { ids(): string[]; imageUsers(imageId: string): { running: string[]; stopped: string[] }; volumeUsers(name: string): string[] };
  /** Bytes in a container's writable layer (snapshotter usage). */
  snapshotUsage(containerId: string): Promise<number>;
  volumes: { list(): Promise<VolumeInfo[]>; size(name: string): Promise<number> };
}

/** docker system df: images (layers counted once overall), writable layers, volumes with sizes and users. */
export async function diskUsage(s: DiskUsageSources): Promise<DiskUsage> {
  const img = await s.images.diskUsage();
  const containers = await Promise.all(s.containers.ids().map(async (id) => ({ id, sizeRw: await s.snapshotUsage(id) })));
  const volumes = await Promise.all(
    (await s.volumes.list()).map(async (volume) => ({ volume, refCount: s.containers.volumeUsers(volume.name).length, size: await s.volumes.size(volume.name) })),
  );
  return {
    layersSize: img.layersSize,
    images: img.images.map((i) => {
      const u = s.containers.imageUsers(i.id);
      return { ...i, containers: u.running.length + u.stopped.length };
    }),
    containers,
    volumes,
  };
}
