import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@drydock/logging';
import { RegistryError } from '../registry/errors';
import { decodeRegistryAuth } from '../upstream/credentials';
import { type CallContext, DEFAULT_ACCEPT, type RemoteRegistry } from '../upstream/remote-registry';
import type { RemoteName } from '../upstream/remote-name';
import type { RegistryPath } from './paths';
import { readManifestBody } from './read-manifest';

/** What the adapter needs of the remote side (tests can hand it a fake). */
export type RemoteBackend = Pick<RemoteRegistry, 'manifest' | 'readBlob' | 'statBlob' | 'mountBlob' | 'pushBlob' | 'pushManifest' | 'listTags'>;

/**
 * HTTP adapter of the pull-through cache and push relay: `/v2/<host>/<repo>/...`
 * decoded into RemoteRegistry calls. Each request's credentials come from its
 * X-Registry-Auth; `signal` fires when the caller goes away.
 */
export class RemoteRoutes {
  constructor(
    private readonly remote: RemoteBackend,
    private readonly opts: { maxManifestBytes: number },
  ) {}

  async dispatch(route: RegistryPath & { name: string }, name: RemoteName, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, signal: AbortSignal, log: Logger): Promise<void> {
    const ctx: CallContext = { credentials: decodeRegistryAuth(req.headers['x-registry-auth']), signal };
    const m = req.method;
    switch (route.kind) {
      case 'manifest':
        if (m === 'GET' || m === 'HEAD') return this.getManifest(name, route.reference, req, res, ctx);
        if (m === 'PUT') return this.putManifest(route.name, name, route.reference, req, res, ctx);
        break;
      case 'blob':
        if (m === 'GET') return this.getBlob(name, route.digest, req, res, ctx, log);
        if (m === 'HEAD') {
          const { size } = await this.remote.statBlob(name, route.digest, ctx);
          res.writeHead(200, { ...blobHeaders(route.digest), 'Content-Length': size });
          res.end();
          return;
        }
        break;
      case 'uploads':
        if (m === 'POST') return this.startUpload(route.name, name, req, res, q, ctx);
        break;
      case 'tags':
        if (m === 'GET') return this.listTags(route.name, name, res, q, ctx);
        break;
    }
    throw new RegistryError('UNSUPPORTED', `${m} ${route.kind} is not supported for remote repositories (the relay takes monolithic uploads: POST ?digest=)`);
  }

  private async getManifest(name: RemoteName, reference: string, req: IncomingMessage, res: ServerResponse, ctx: CallContext): Promise<void> {
    const accept = parseAccept(req.headers.accept);
    const m = await this.remote.manifest(name, reference, accept, ctx);
    res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.body.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` });
    res.end(req.method === 'HEAD' ? undefined : m.body);
  }

  /** The upstream's page of tags under this repository's name; its next page is linked through the proxy. */
  private async listTags(path: string, name: RemoteName, res: ServerResponse, q: URLSearchParams, ctx: CallContext): Promise<void> {
    const page = await this.remote.listTags(name, { n: q.get('n') ?? undefined, last: q.get('last') ?? undefined }, ctx);
    const body = Buffer.from(JSON.stringify({ name: path, tags: page.tags }));
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length };
    if (page.next) headers.Link = `</v2/${path}/tags/list?${page.next}>; rel="next"`;
    res.writeHead(200, headers);
    res.end(body);
  }

  private async putManifest(path: string, name: RemoteName, reference: string, req: IncomingMessage, res: ServerResponse, ctx: CallContext): Promise<void> {
    const bytes = await readManifestBody(req, this.opts.maxManifestBytes);
    const { digest } = await this.remote.pushManifest(name, reference, bytes, req.headers['content-type'], ctx);
    res.writeHead(201, { Location: `/v2/${path}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    res.end();
  }

  private async getBlob(name: RemoteName, digest: string, req: IncomingMessage, res: ServerResponse, ctx: CallContext, log: Logger): Promise<void> {
    const range = parseOpenRange(req.headers.range);
    const blob = await this.remote.readBlob(name, digest, range?.start ?? 0, ctx);
    const { size } = blob;
    let stream: Readable = blob.stream;
    if (range) {
      const end = Math.min(range.end ?? size - 1, size - 1);
      if (range.start >= size || end < range.start) {
        blob.stream.destroy();
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      if (end < size - 1) stream = Readable.from(take(blob.stream, end - range.start + 1));
      res.writeHead(206, { ...blobHeaders(digest), 'Content-Length': end - range.start + 1, 'Content-Range': `bytes ${range.start}-${end}/${size}` });
    } else {
      res.writeHead(200, { ...blobHeaders(digest), 'Content-Length': size });
    }
    // A failed verification (or a dead upstream) errors the stream after the headers:
    // the response is cut short, which the caller sees as a truncated body.
    await pipeline(stream, res).catch((err: Error) => {
      if (!ctx.signal?.aborted) log.warn({ digest, err: err.message }, 'blob response cut short');
    });
  }

  private async startUpload(path: string, name: RemoteName, req: IncomingMessage, res: ServerResponse, q: URLSearchParams, ctx: CallContext): Promise<void> {
    const mount = q.get('mount');
    const from = q.get('from');
    const digest = q.get('digest');
    if (mount && from) {
      if (await this.remote.mountBlob(name, mount, from, ctx)) {
        req.resume();
        return created(res, path, mount);
      }
      if (!digest) {
        req.resume();
        // Nothing to resume here: the caller follows up with a monolithic POST ?digest=.
        res.writeHead(202, { Location: `/v2/${path}/blobs/uploads/`, Range: '0-0', 'Content-Length': 0 });
        res.end();
        return;
      }
    }
    if (!digest) throw new RegistryError('UNSUPPORTED', 'the relay to a remote registry takes monolithic uploads only: POST ?digest=<digest> with the whole blob');
    const len = req.headers['content-length'];
    await this.remote.pushBlob(name, digest, req, len === undefined ? undefined : Number(len), ctx);
    created(res, path, digest);
  }
}

function blobHeaders(digest: string): Record<string, string> {
  return { 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ETag: `"${digest}"` };
}

function created(res: ServerResponse, path: string, digest: string): void {
  res.writeHead(201, { Location: `/v2/${path}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
  res.end();
}

/** The caller's Accept as a list of media types (all manifest types when absent or a wildcard). */
export function parseAccept(header: string | string[] | undefined): string[] {
  const values = (Array.isArray(header) ? header : header ? [header] : [])
    .flatMap((h) => h.split(','))
    .map((t) => t.split(';')[0].trim())
    .filter((t) => t && t !== '*/*');
  return values.length ? [...new Set(values)] : DEFAULT_ACCEPT;
}

/**
 * `Range: bytes=N-` or `bytes=N-M`, the forms pullers send; anything else (suffix
 * ranges, several ranges) is served whole, as RFC 9110 allows.
 */
export function parseOpenRange(header: string | undefined): { start: number; end?: number } | undefined {
  const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) };
}

/** The first `n` bytes of a stream, which is then destroyed (its shared fetch goes on). */
async function* take(stream: Readable, n: number): AsyncGenerator<Buffer> {
  let left = n;
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      if (b.length >= left) {
        yield b.subarray(0, left);
        return;
      }
      left -= b.length;
      yield b;
    }
  } finally {
    stream.destroy();
  }
}
