import type { Readable } from 'node:stream';
import type { Logger } from '@drydock/logging';
import type { BlobCache, BlobSource, UpstreamBody } from '../cache';
import { isDigest, parseDigest, sha256Digest } from '../registry/digest';
import { RegistryError } from '../registry/errors';
import { MEDIA_TYPES } from '../registry/manifest';
import { validateTag } from '../registry/names';
import type { Credentials } from './credentials';
import { DigestVerifier } from './digest-verifier';
import type { Endpoint } from './endpoints';
import { UpstreamError, digestMismatch, findCause } from './errors';
import type { Access, RegistryClient } from './registry-client';
import type { RemoteName } from './remote-name';
import { type Subject, upstreamError } from './upstream-errors';

/** The cache operations the pull-through side uses. */
export type PullCache = Pick<BlobCache, 'stat' | 'read' | 'putManifest' | 'getManifest' | 'setTag' | 'getTag'>;

/** Every manifest type the proxy understands, for callers that send no Accept. */
export const DEFAULT_ACCEPT = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex];

export interface CallContext {
  credentials: Credentials;
  /** The caller went away: abort what it alone caused. */
  signal?: AbortSignal;
}

export interface RemoteManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * The pull-through cache and push relay for repositories of remote registries.
 * Everything served is verified against its digest first; blobs go through the
 * BlobCache (one upstream fetch per digest, resumable); pushes are relayed to the
 * upstream while hashed. No HTTP server types here: the adapter maps the results.
 */
export class RemoteRegistry {
  private readonly log: Logger;
  /** Manifest fetches by digest in flight: concurrent pulls of one image ask the upstream once. */
  private readonly manifestFlights = new Map<string, Promise<RemoteManifest>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly cache: PullCache,
    logger: Logger,
    private readonly opts: { maxManifestBytes: number },
  ) {
    this.log = logger.child({ component: 'remote-registry' });
  }

  // ---- pull

  /**
   * A manifest by digest (cache first) or by tag (always asked upstream: HEAD, and a
   * GET only when the digest is not cached). A tag falls back to the last digest seen
   * when the upstream cannot be reached.
   */
  async manifest(name: RemoteName, reference: string, accept: string[], ctx: CallContext): Promise<RemoteManifest> {
    if (isDigest(reference)) {
      parseDigest(reference);
      const hit = await this.cache.getManifest(reference);
      if (hit) return { mediaType: hit.mediaType, digest: reference, body: hit.body };
      return this.fetchManifestOnce(name, reference, accept, ctx);
    }
    validateTag(reference);
    try {
      // As dockerd: HEAD the tag, then fetch by digest (cached content needs no GET at all).
      const digest = await this.headManifest(name, reference, accept, ctx);
      const hit = digest ? await this.cache.getManifest(digest) : undefined;
      let m: RemoteManifest;
      if (hit && digest) m = { mediaType: hit.mediaType, digest, body: hit.body };
      else if (digest) m = await this.fetchManifestOnce(name, digest, accept, ctx);
      else {
        m = await this.fetchManifest(name, reference, accept, ctx);
        await this.cache.putManifest(m.digest, m.mediaType, m.body);
      }
      await this.cache.setTag(name.key, reference, m.digest);
      return m;
    } catch (err) {
      if (ctx.signal?.aborted || !unreachable(err)) throw err;
      const digest = await this.cache.getTag(name.key, reference);
      const hit = digest ? await this.cache.getManifest(digest) : undefined;
      if (!digest || !hit) throw err;
      this.log.warn({ repository: name.key, tag: reference, digest, err: (err as Error).message }, 'upstream unreachable, serving the last digest seen for the tag');
      return { mediaType: hit.mediaType, digest, body: hit.body };
    }
  }

  /** A blob from byte `start`, through the cache (shared single fetch; bytes flow as they arrive). */
  async readBlob(name: RemoteName, digest: string, start: number, ctx: CallContext): Promise<{ size: number; stream: Readable }> {
    parseDigest(digest);
    try {
      return await this.cache.read(digest, { start, source: this.blobSource(name, digest, ctx.credentials), signal: ctx.signal });
    } catch (err) {
      throw asUpstreamDigestError(err);
    }
  }

  /**
   * Whether the upstream repository has the blob (what a push must know), with its
   * size. Always the upstream's answer, never the cache's: a cached blob says nothing
   * about that repository, and a push told "exists" would skip the layer.
   */
  async statBlob(name: RemoteName, digest: string, ctx: CallContext): Promise<{ size: number }> {
    parseDigest(digest);
    return this.client.withEndpoints(
      name.host,
      'pull',
      async (ep) => {
        const res = await this.client.fetch(ep, this.access(name, ctx, 'pull'), { method: 'HEAD', path: this.path(name, 'blobs', digest), signal: ctx.signal, followRedirects: true }, 0);
        if (res.status !== 200) throw upstreamError(res.status, undefined, 'blob');
        return { size: Number(res.headers['content-length'] ?? 0) };
      },
      ctx.signal,
    );
  }

  /**
   * One page of the upstream repository's tags (`docker pull --all-tags`), relayed with
   * its `n`/`last`; `next` is the query of the upstream's next page (from its Link header).
   */
  async listTags(name: RemoteName, page: { n?: string; last?: string }, ctx: CallContext): Promise<{ tags: string[]; next?: URLSearchParams }> {
    const q = new URLSearchParams();
    if (page.n) q.set('n', page.n);
    if (page.last) q.set('last', page.last);
    const path = `/v2/${name.repo}/tags/list${q.size ? `?${q}` : ''}`;
    return this.client.withEndpoints(
      name.host,
      'pull',
      async (ep) => {
        const res = await this.client.fetch(ep, this.access(name, ctx, 'pull'), { method: 'GET', path, signal: ctx.signal }, this.opts.maxManifestBytes);
        if (res.status !== 200) throw upstreamError(res.status, res.body, 'repository');
        let tags: unknown;
        try {
          tags = (JSON.parse(res.body.toString('utf8')) as { tags?: unknown }).tags;
        } catch {
          throw new UpstreamError(502, 'UNKNOWN', `upstream answered ${path} with a body that is not JSON`, { origin: 'proxy' });
        }
        return { tags: Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [], next: nextPage(res.headers.link) };
      },
      ctx.signal,
    );
  }

  // ---- push

  /** Cross-repository mount on the upstream; false when it started an upload instead (then cancelled). */
  async mountBlob(name: RemoteName, digest: string, from: string, ctx: CallContext): Promise<boolean> {
    parseDigest(digest);
    const fromRepo = from.startsWith(`${name.host}/`) ? from.slice(name.host.length + 1) : from;
    const access: Access = { credentials: ctx.credentials, scopes: [`repository:${name.repo}:pull,push`, `repository:${fromRepo}:pull`] };
    return this.client.withEndpoints(
      name.host,
      'push',
      async (ep) => {
        const q = new URLSearchParams({ mount: digest, from: fromRepo });
        const res = await this.client.fetch(ep, access, { method: 'POST', path: `/v2/${name.repo}/blobs/uploads/?${q}`, signal: ctx.signal }, ERROR_BODY_LIMIT);
        if (res.status === 201) return true;
        if (res.status === 202) {
          this.cancelUpload(ep, access, res.headers.location);
          return false;
        }
        throw upstreamError(res.status, res.body, 'blob');
      },
      ctx.signal,
    );
  }

  /**
   * Relays a whole blob: POST an upload, then PUT the body while hashing it. The last
   * chunk is held back until the hash matched, so an upstream never completes an upload
   * of the wrong content; on a mismatch the upload is cancelled and DIGEST_INVALID thrown.
   */
  async pushBlob(name: RemoteName, digest: string, body: Readable, size: number | undefined, ctx: CallContext): Promise<void> {
    parseDigest(digest);
    const access = this.access(name, ctx, 'pull,push');
    // The body can be sent once: endpoints are tried with the (bodiless) POST only.
    const { ep, location } = await this.client.withEndpoints(
      name.host,
      'push',
      async (ep) => {
        const res = await this.client.fetch(ep, access, { method: 'POST', path: `/v2/${name.repo}/blobs/uploads/`, signal: ctx.signal }, ERROR_BODY_LIMIT);
        if (res.status !== 202 || !res.headers.location) throw upstreamError(res.status, res.body, 'upload');
        return { ep, location: res.headers.location };
      },
      ctx.signal,
    );
    const url = new URL(location, ep.origin);
    url.searchParams.set('digest', digest);
    if (url.origin !== ep.origin) throw new UpstreamError(502, 'UNSUPPORTED', `upload location ${url.origin} is on another host`, { origin: 'proxy' });
    const verifier = new DigestVerifier(digest, size);
    body.once('error', (err) => verifier.destroy(err));
    body.once('aborted', () => verifier.destroy(new Error('the client went away during the upload')));
    body.pipe(verifier);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
    if (size !== undefined) headers['Content-Length'] = size;
    try {
      const res = await this.client.open(ep, access, { method: 'PUT', path: url.pathname + url.search, headers, body: verifier, signal: ctx.signal });
      const text = await readSome(res.body, ERROR_BODY_LIMIT);
      if (res.status !== 201) throw upstreamError(res.status, text, 'upload');
    } catch (err) {
      this.cancelUpload(ep, access, location);
      body.resume();
      if (verifier.failure) throw verifier.failure;
      throw err;
    }
  }

  /** Relays a manifest; answers the digest of the bytes sent (checked against a digest reference). */
  async pushManifest(name: RemoteName, reference: string, bytes: Buffer, contentType: string | undefined, ctx: CallContext): Promise<{ digest: string }> {
    const digest = sha256Digest(bytes);
    if (isDigest(reference)) {
      parseDigest(reference);
      if (reference !== digest) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: reference, actual: digest });
    } else validateTag(reference);
    const mediaType = contentType?.split(';')[0].trim() || manifestMediaType(bytes) || MEDIA_TYPES.ociManifest;
    await this.client.withEndpoints(
      name.host,
      'push',
      async (ep) => {
        const res = await this.client.fetch(
          ep,
          this.access(name, ctx, 'pull,push'),
          { method: 'PUT', path: this.path(name, 'manifests', reference), headers: { 'Content-Type': mediaType }, body: bytes, signal: ctx.signal },
          ERROR_BODY_LIMIT,
        );
        if (res.status !== 201) throw upstreamError(res.status, res.body, 'manifest');
        const theirs = res.headers['docker-content-digest'];
        if (theirs && theirs !== digest) this.log.warn({ repository: name.key, digest, upstreamDigest: theirs }, 'upstream computed another manifest digest');
      },
      ctx.signal,
    );
    await this.cache.putManifest(digest, mediaType, bytes).catch((err) => this.log.warn({ err }, 'cannot cache pushed manifest'));
    return { digest };
  }

  // ---- helpers

  private access(name: RemoteName, ctx: CallContext, actions: string): Access {
    return { credentials: ctx.credentials, scopes: [`repository:${name.repo}:${actions}`] };
  }

  private path(name: RemoteName, kind: 'manifests' | 'blobs', ref: string): string {
    return `/v2/${name.repo}/${kind}/${ref}`;
  }

  /**
   * GET by digest shared by concurrent callers, cached once verified. It runs without
   * any caller's signal (one caller leaving must not fail the others); the deadline
   * bounds it. Callers were each authorized by their own HEAD or cache miss path.
   */
  private fetchManifestOnce(name: RemoteName, digest: string, accept: string[], ctx: CallContext): Promise<RemoteManifest> {
    let flight = this.manifestFlights.get(digest);
    if (!flight) {
      flight = this.fetchManifest(name, digest, accept, { credentials: ctx.credentials })
        .then(async (m) => {
          await this.cache.putManifest(m.digest, m.mediaType, m.body);
          return m;
        })
        .finally(() => this.manifestFlights.delete(digest));
      this.manifestFlights.set(digest, flight);
    }
    return abortable(flight, ctx.signal);
  }

  /** Upstream HEAD of a manifest: the digest it names for the tag, if any. */
  private async headManifest(name: RemoteName, reference: string, accept: string[], ctx: CallContext): Promise<string | undefined> {
    return this.client.withEndpoints(
      name.host,
      'pull',
      async (ep) => {
        const res = await this.client.fetch(ep, this.access(name, ctx, 'pull'), { method: 'HEAD', path: this.path(name, 'manifests', reference), headers: { Accept: accept.join(', ') }, signal: ctx.signal }, 0);
        if (res.status !== 200) throw upstreamError(res.status, undefined, 'manifest');
        const d = res.headers['docker-content-digest'];
        return typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d) ? d : undefined;
      },
      ctx.signal,
    );
  }

  /** Upstream GET of a manifest, verified: against a digest reference, or against the upstream's own digest header. */
  private async fetchManifest(name: RemoteName, reference: string, accept: string[], ctx: CallContext): Promise<RemoteManifest> {
    return this.client.withEndpoints(
      name.host,
      'pull',
      async (ep) => {
        const res = await this.client.fetch(
          ep,
          this.access(name, ctx, 'pull'),
          { method: 'GET', path: this.path(name, 'manifests', reference), headers: { Accept: accept.join(', ') }, signal: ctx.signal },
          this.opts.maxManifestBytes,
        );
        if (res.status !== 200) throw upstreamError(res.status, res.body, 'manifest');
        const digest = sha256Digest(res.body);
        const claimed = res.headers['docker-content-digest'];
        if (isDigest(reference) && digest !== reference) throw digestMismatch(reference, digest, 'manifest');
        if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) throw digestMismatch(claimed, digest, 'manifest');
        const header = String(res.headers['content-type'] ?? '').split(';')[0].trim();
        const mediaType = header && header !== 'application/json' && header !== 'text/plain' ? header : (manifestMediaType(res.body) ?? MEDIA_TYPES.ociManifest);
        return { mediaType, digest, body: res.body };
      },
      ctx.signal,
    );
  }

  /**
   * The cache's source for one blob: GET with `Range: bytes=<offset>-` from the
   * registry's endpoints (mirrors first for Docker Hub). Its signal is the shared
   * fetch's, not any single caller's.
   */
  private blobSource(name: RemoteName, digest: string, credentials: Credentials): BlobSource {
    return (offset, signal) =>
      this.client.withEndpoints(
        name.host,
        'pull',
        async (ep): Promise<UpstreamBody> => {
          const headers = offset > 0 ? { Range: `bytes=${offset}-` } : undefined;
          const res = await this.client.open(ep, { credentials, scopes: [`repository:${name.repo}:pull`] }, { method: 'GET', path: this.path(name, 'blobs', digest), headers, signal, followRedirects: true });
          if (res.status === 200) {
            const len = res.headers['content-length'];
            return { stream: res.body, offset: 0, size: len === undefined ? undefined : Number(len) };
          }
          if (res.status === 206) {
            const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
            if (!m) {
              res.body.destroy();
              throw new UpstreamError(502, 'UNKNOWN', `upstream answered 206 without a usable Content-Range for ${digest}`, { origin: 'proxy' });
            }
            return { stream: res.body, offset: Number(m[1]), size: m[3] === '*' ? undefined : Number(m[3]) };
          }
          throw upstreamError(res.status, await readSome(res.body, ERROR_BODY_LIMIT), subjectOf(res.status));
        },
        signal,
      );
  }

  /** Best effort: an upstream upload the relay will not finish is deleted, not left to expire. */
  private cancelUpload(ep: Endpoint, access: Access, location: string | undefined): void {
    if (!location) return;
    const url = new URL(location, ep.origin);
    if (url.origin !== ep.origin) return;
    this.client
      .fetch(ep, access, { method: 'DELETE', path: url.pathname + url.search }, ERROR_BODY_LIMIT)
      .catch((err) => this.log.debug({ err: (err as Error).message }, 'cannot cancel upstream upload'));
  }
}

/** Waits for `p` unless `signal` fires first (the shared work goes on). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function subjectOf(status: number): Subject {
  return status === 404 ? 'blob' : 'repository';
}

/** The cache's DIGEST_INVALID means the upstream sent bad bytes: the proxy's own 502, not a client error. */
function asUpstreamDigestError(err: unknown): unknown {
  const e = findCause(err, RegistryError);
  if (e?.code === 'DIGEST_INVALID') return new UpstreamError(502, 'DIGEST_INVALID', e.message, { origin: 'proxy', detail: e.detail, cause: err });
  return err;
}

/** The query of a Link header's rel="next" target (`</v2/r/tags/list?last=b&n=2>; rel="next"`). */
export function nextPage(link: string | string[] | undefined): URLSearchParams | undefined {
  for (const l of (Array.isArray(link) ? link : link ? [link] : []).flatMap((h) => h.split(','))) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(l);
    if (!m || !/\brel="?next"?/.test(m[2])) continue;
    return new URL(m[1], 'http://x').searchParams;
  }
  return undefined;
}

/** No answer from the registry (or a server error): the tag fallback applies. */
function unreachable(err: unknown): boolean {
  const e = findCause(err, UpstreamError);
  return !!e && (e.code === 'UNAVAILABLE' || (e.origin === 'upstream' && e.status >= 500));
}

function manifestMediaType(bytes: Buffer): string | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8'));
    if (typeof doc?.mediaType === 'string') return doc.mediaType;
    if (Array.isArray(doc?.manifests)) return MEDIA_TYPES.ociIndex;
  } catch {
    // not JSON
  }
  return undefined;
}

/** Up to `limit` bytes of a response body (error bodies); the rest is discarded. */
async function readSome(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      if (n < limit) chunks.push(c as Buffer);
      n += (c as Buffer).length;
    }
  } catch {
    // a cut error body: what arrived is enough
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
