/** docker save / docker load in Docker 20.10's archive format. */
export { ImageExporter, UNCOMPRESSED_SIZE_LABEL, type LocalBlobs, type PreparedExport } from './image-exporter';
export { ImageLoader, type LoadResult } from './image-loader';
export type { ArchiveImageStore } from './ports';
