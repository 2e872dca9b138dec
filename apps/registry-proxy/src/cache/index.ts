export { BlobCache, type BlobCacheOptions, type BlobReadOptions, type BlobSource, type UpstreamBody } from './blob-cache';
