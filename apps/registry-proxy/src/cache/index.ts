/**
 * The registry-proxy's pull-through cache (domain code, no HTTP): BlobCache stores blobs,
 * manifests and tags of remote registries; the HTTP routes and the upstream client feed it
 * through BlobSource. Test fakes of that seam live in ./testing (not exported here).
 */
export { BlobCache, type BlobCacheOptions, type BlobReadOptions, type BlobSource, type UpstreamBody } from './blob-cache';
