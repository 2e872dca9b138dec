import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { RegistryError } from './registry-errors';

/** The four manifest media types a pull accepts (schema1 is refused after the fact). */
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface RegistryClientOptions {
  /** The registry-proxy, e.g. `http://127.0.0.1:5100` (DRYDOCK_REGISTRY_PROXY_URL). */
  baseUrl: string;
  /**
   * Repository path under `/v2/` for a normalized name. The proxy's contract keeps
   * the registry host (`docker.io/library/busybox`); a plain registry wants the
   * path alone.
   */
  repositoryPath?: (name: string) => string;
  /** Deadline for a response's headers and for any pause between body bytes. */
  idleTimeoutMs: number;
}

export interface FetchedManifest {
  body: Buffer;
  mediaType: string;
  /** Docker-Content-Digest as the proxy answered (it verified it). */
  digest?: string;
}

export interface BlobStream {
  body: AsyncIterable<Buffer>;
  /** Offset of the first byte of `body` (the Range start when the server honoured it, else 0). */
  start: number;
}

/** Per-call credentials and cancellation. */
export interface CallOptions {
  /** The client's X-Registry-Auth header, passed through unchanged. */
  auth?: string;
  signal?: AbortSignal;
}

/**
 * HTTP client of the registry-proxy's distribution API (apps/registry-proxy/README.md).
 * Plain HTTP with keep-alive; every non-2xx becomes a RegistryError carrying the
 * distribution error body, every connection failure a RegistryError with `network`.
 */
export class RegistryClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  private readonly base: URL;
  private readonly repoPath: (name: string) => string;

  constructor(private readonly opts: RegistryClientOptions) {
    this.base = new URL(opts.baseUrl);
    this.repoPath = opts.repositoryPath ?? ((n) => n);
  }

  close(): void {
    this.agent.destroy();
  }

  async getManifest(name: string, reference: string, o: CallOptions): Promise<FetchedManifest> {
    const res = await this.send('GET', `${this.repoPath(name)}/manifests/${reference}`, { Accept: MANIFEST_ACCEPT }, o);
    const body = await readAll(res, 4 * 1024 * 1024);
    return { body, mediaType: String(res.headers['content-type'] ?? '').split(';')[0].trim(), digest: header(res, 'docker-content-digest') };
  }

  /** A whole small blob (config). */
  async getBlobBytes(name: string, digest: string, o: CallOptions, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
    const res = await this.send('GET', `${this.repoPath(name)}/blobs/${digest}`, {}, o);
    return readAll(res, maxBytes);
  }

  /** Streams a blob from `offset` (Range: bytes=N-). */
  async getBlob(name: string, digest: string, offset: number, o: CallOptions): Promise<BlobStream> {
    const res = await this.send('GET', `${this.repoPath(name)}/blobs/${digest}`, offset > 0 ? { Range: `bytes=${offset}-` } : {}, o);
    const start = res.statusCode === 206 ? Number(/bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1] ?? 0) : 0;
    return { body: res as AsyncIterable<Buffer>, start };
  }

  /** True when the repository has the blob (HEAD 200). */
  async hasBlob(name: string, digest: string, o: CallOptions): Promise<boolean> {
    try {
      const res = await this.send('HEAD', `${this.repoPath(name)}/blobs/${digest}`, {}, o);
      res.resume();
      return true;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return false;
      if (!(err instanceof RegistryError) || err.network || err.errors.length > 0) throw err;
      // A HEAD answer has no body to say why. A manifest GET by the same digest
      // goes upstream with the same credentials and, refused, says it in words.
      // (Not a blob GET: the proxy may serve a cached blob without asking the upstream.)
      try {
        (await this.send('GET', `${this.repoPath(name)}/manifests/${digest}`, { Accept: MANIFEST_ACCEPT }, o)).destroy();
      } catch (probe) {
        if (probe instanceof RegistryError && probe.status === err.status && probe.errors.length > 0) throw probe;
      }
      throw err;
    }
  }

  /**
   * Cross-repository mount from repository path `from` of the same registry
   * (`team/app`, without the host): true when mounted (201), false when the
   * registry wants an upload (202).
   */
  async mountBlob(name: string, digest: string, from: string, o: CallOptions): Promise<boolean> {
    const q = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.send('POST', `${this.repoPath(name)}/blobs/uploads/?${q}`, { 'Content-Length': '0' }, o);
    res.resume();
    return res.statusCode === 201;
  }

  /**
   * Monolithic upload: POST ?digest= with the whole blob as body (the proxy's
   * contract). A registry without monolithic POST answers 202 with an upload
   * session instead; the bytes then go again with PUT <location>&digest=.
   */
  async uploadBlob(name: string, digest: string, size: number, body: () => AsyncIterable<Buffer>, o: CallOptions): Promise<void> {
    const headers = { 'Content-Length': String(size), 'Content-Type': 'application/octet-stream' };
    const res = await this.send('POST', `${this.repoPath(name)}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, headers, o, body());
    res.resume();
    const location = header(res, 'location');
    if (res.statusCode !== 202 || !location) return;
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    const put = await this.send('PUT', url.pathname.replace(/^.*?\/v2\//, '') + url.search, headers, o, body());
    put.resume();
  }

  /** PUT of a manifest by tag; returns the registry's Docker-Content-Digest. */
  async putManifest(name: string, tag: string, mediaType: string, body: Buffer, o: CallOptions): Promise<string | undefined> {
    const res = await this.send('PUT', `${this.repoPath(name)}/manifests/${tag}`, { 'Content-Type': mediaType, 'Content-Length': String(body.length) }, o, body);
    res.resume();
    return header(res, 'docker-content-digest');
  }

  /** Every tag of the repository, following the Link pages (distribution's Tags().All()). */
  async listTags(name: string, o: CallOptions): Promise<string[]> {
    const tags: string[] = [];
    let path = `${this.repoPath(name)}/tags/list`;
    for (let page = 0; page < 1000; page++) {
      const res = await this.send('GET', path, { Accept: 'application/json' }, o);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res, 'link') ?? '')?.[1];
      const doc = JSON.parse((await readAll(res, 16 * 1024 * 1024)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      if (!next) return tags;
      const url = new URL(next, this.base);
      path = url.pathname.replace(/^.*?\/v2\//, '') + url.search;
    }
    throw new RegistryError(0, [], `GET /v2/${this.repoPath(name)}/tags/list: more than 1000 pages`);
  }

  private send(method: string, path: string, headers: Record<string, string>, o: CallOptions, body?: Buffer | AsyncIterable<Buffer>): Promise<IncomingMessage> {
    const what = `${method} /v2/${path}`;
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (o.signal?.aborted) return reject(abortError(o.signal));
      const req = httpRequest(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          method,
          path: `${this.base.pathname.replace(/\/$/, '')}/v2/${path}`,
          headers: { ...headers, ...(o.auth ? { 'X-Registry-Auth': o.auth } : {}) },
          agent: this.agent,
          signal: o.signal,
          timeout: this.opts.idleTimeoutMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            // A stalled body is as dead as a refused connection: the caller retries.
            res.setTimeout(this.opts.idleTimeoutMs, () => res.destroy(Object.assign(new Error('registry-proxy stopped sending'), { code: 'ETIMEDOUT' })));
            res.on('error', () => undefined);
            return resolve(wrapBody(res, what));
          }
          readAll(res, 64 * 1024)
            .then((b) => reject(RegistryError.fromResponse(status, b.toString('utf8'), what)))
            .catch(() => reject(RegistryError.fromResponse(status, '', what)));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('registry-proxy did not answer in time'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: Error & { code?: string }) => {
        if (o.signal?.aborted) reject(abortError(o.signal));
        else reject(RegistryError.network(err, what));
      });
      if (body === undefined) return void req.end();
      if (Buffer.isBuffer(body)) return void req.end(body);
      void (async () => {
        try {
          for await (const chunk of body) {
            // A request that died (cancelled, refused) ends the loop, so the body's source is released.
            if (req.destroyed) return;
            if (!req.write(chunk)) await new Promise((r) => (req.once('drain', r), req.once('close', r)));
          }
          req.end();
        } catch (err) {
          req.destroy(err as Error);
        }
      })();
    });
  }
}

/** The response body as an async iterable whose failures are RegistryErrors (network) too. */
function wrapBody(res: IncomingMessage, what: string): IncomingMessage {
  const iterate = res[Symbol.asyncIterator].bind(res);
  Object.defineProperty(res, Symbol.asyncIterator, {
    value: async function* () {
      let received = 0;
      try {
        for await (const chunk of { [Symbol.asyncIterator]: iterate }) {
          received += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw RegistryError.network(err as Error, what);
      }
      // A response cut short (proxy killed, digest mismatch upstream) ends without an error event.
      const expected = Number(res.headers['content-length'] ?? NaN);
      if (!res.complete || (Number.isFinite(expected) && received < expected)) {
        throw RegistryError.network(Object.assign(new Error('unexpected EOF'), { code: 'EOF' }), what);
      }
    },
  });
  return res;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readAll(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > maxBytes) {
      res.destroy();
      throw new RegistryError(0, [], `response larger than ${maxBytes} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}
