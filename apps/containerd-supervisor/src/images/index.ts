/** Node-local images: import, list, inspect, tag, remove, and container snapshots. */
export {
  ImageStore,
  danglingName,
  isDanglingName,
  type ImageStoreOptions,
  type ImportHeader,
  type ImportResult,
  type ImageSummary,
  type ListImagesOptions,
  type ResolvedImage,
  type ImageInspect,
  type RemoveImageOptions,
  type RemoveImageResult,
  type ImageDiskUsage,
} from './image-store';
export { SnapshotManager, type SnapshotManagerOptions, type Mount } from './snapshot-manager';
export type { ImageUsage } from './removal';
export type { Filter as ImageFilterSpec } from './image-filters';
export type { HistoryItem, DockerRunConfig } from './image-model';
