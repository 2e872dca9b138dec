import type { ImageStore } from '../image-store';

/** The image store's public API the archive code uses (read, and the ingest API for load). */
export type ArchiveImageStore = Pick<
  ImageStore,
  'resolveImage' | 'listImages' | 'containerd' | 'snapshotterName' | 'withLease' | 'unpack' | 'hasSnapshot' | 'nameImage'
>;
