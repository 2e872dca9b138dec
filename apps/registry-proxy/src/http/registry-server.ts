import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import findMyWay, { type HTTPVersion, type Instance } from 'find-my-way';
import type { Logger } from '@drydock/logging';
import { RegistryError } from '../registry/errors';
import type { Page, RegistryStore } from '../registry/registry-store';
import { parseContentRange, parseRange } from './range';
import { parseRegistryPath, type RegistryPath } from './paths';
import { readManifestBody } from './read-manifest';
import { toRegistryErrorResponse } from './registry-errors';
import { parseRemoteName } from '../upstream/remote-name';
import type { ControlRoutes } from './control-routes';
import type { RemoteRoutes } from './remote-routes';

/** The narrow store interface the adapter needs (tests can hand it a fake). */
export type RegistryBackend = Pick<
  RegistryStore,
  | 'statBlob'
  | 'readBlob'
  | 'deleteBlob'
  | 'mountBlob'
  | 'startUpload'
  | 'getUpload'
  | 'cancelUpload'
  | 'appendUpload'
  | 'completeUpload'
  | 'putManifest'
  | 'getManifest'
  | 'deleteManifest'
  | 'listTags'
  | 'catalog'
>;

export interface RegistryServerOptions {
  maxManifestBytes: number;
  /** Repositories of remote registries (`/v2/<host>/<repo>/...`); without it they are plain local names. */
  remote?: RemoteRoutes;
  /** `/drydock/v1/auth` and `/drydock/v1/search`. */
  control?: ControlRoutes;
}

const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/**
 * The OCI distribution v2 HTTP adapter: decodes requests, calls the store, encodes
 * responses and maps RegistryError codes to the spec's error body. No storage logic.
 */
export class RegistryServer {
  private readonly router: Instance<HTTPVersion.V1>;
  private readonly server: Server;
  private readonly log: Logger;
  private nextRequestId = 1;
  private closing?: Promise<void>;

  constructor(
    private readonly store: RegistryBackend,
    logger: Logger,
    private readonly opts: RegistryServerOptions,
  ) {
    this.log = logger.child({ component: 'registry-server' });
    // Repository names hold slashes: one wildcard route, parsed from the end by parseRegistryPath.
    this.router = findMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 2048 });
    const all = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
    this.router.on([...all], '/v2', () => undefined);
    this.router.on([...all], '/v2/*', () => undefined);
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets requests in flight finish for a moment, then cuts them. Idempotent. */
  close(graceMs = 2000): Promise<void> {
    return (this.closing ??= new Promise<void>((resolve) => {
      const t = setTimeout(() => this.server.closeAllConnections(), graceMs);
      t.unref();
      this.server.close(() => (clearTimeout(t), resolve()));
      this.server.closeIdleConnections();
    }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.log.child({ requestId: this.nextRequestId++ });
    const url = new URL(req.url ?? '/', 'http://registry');
    // The caller going away cancels the upstream work it alone caused.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort(new Error('the client went away'));
    });
    if (this.opts.control && url.pathname.startsWith('/drydock/')) {
      if (await this.opts.control.handle(url.pathname, url.searchParams, req, res, gone.signal, log)) return;
    }
    for (const [k, v] of Object.entries(API_VERSION_HEADER)) res.setHeader(k, v);
    try {
      const route = this.router.find(req.method as 'GET', url.pathname) ? parseRegistryPath(url.pathname) : undefined;
      if (!route) {
        req.resume();
        return sendJson(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'no such registry endpoint', detail: { path: url.pathname } }] });
      }
      const remoteName = this.opts.remote && 'name' in route ? parseRemoteName(route.name) : undefined;
      if (remoteName) await this.opts.remote!.dispatch(route as RegistryPath & { name: string }, remoteName, req, res, url.searchParams, gone.signal, log);
      else await this.dispatch(route, req, res, url.searchParams);
      log.debug({ method: req.method, path: url.pathname, status: res.statusCode }, 'request');
    } catch (err) {
      if (gone.signal.aborted) {
        log.debug({ method: req.method, path: url.pathname }, 'client went away');
        return void res.destroy();
      }
      const e = toRegistryErrorResponse(err);
      if (e.classified) log.debug({ method: req.method, path: url.pathname, status: e.status, code: e.body.errors[0].code }, 'request failed');
      else log.error({ err, method: req.method, path: url.pathname }, 'request failed');
      req.resume();
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      sendJson(res, e.status, e.body);
    }
  }

  private async dispatch(route: RegistryPath, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const m = req.method;
    switch (route.kind) {
      case 'base':
        if (m === 'GET' || m === 'HEAD') return sendJson(res, 200, {}, m === 'HEAD');
        break;
      case 'catalog':
        if (m === 'GET') {
          const page = await this.store.catalog(pageSize(q), q.get('last') ?? undefined);
          return sendJson(res, 200, { repositories: page.items }, false, nextLink('/v2/_catalog', page, q));
        }
        break;
      case 'tags':
        if (m === 'GET') {
          const page = await this.store.listTags(route.name, pageSize(q), q.get('last') ?? undefined);
          return sendJson(res, 200, { name: route.name, tags: page.items }, false, nextLink(`/v2/${route.name}/tags/list`, page, q));
        }
        break;
      case 'manifest':
        return this.manifest(route, req, res);
      case 'blob':
        return this.blob(route, req, res);
      case 'uploads':
        if (m === 'POST') return this.startUpload(route.name, req, res, q);
        break;
      case 'upload':
        return this.upload(route, req, res, q);
    }
    throw new RegistryError('UNSUPPORTED', `${m} is not supported here`);
  }

  private async manifest(route: Extract<RegistryPath, { kind: 'manifest' }>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { name, reference } = route;
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const m = await this.store.getManifest(name, reference);
        res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.bytes.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` });
        res.end(req.method === 'HEAD' ? undefined : m.bytes);
        return;
      }
      case 'PUT': {
        const bytes = await readManifestBody(req, this.opts.maxManifestBytes);
        const { digest } = await this.store.putManifest(name, reference, bytes, req.headers['content-type']);
        res.writeHead(201, { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
        res.end();
        return;
      }
      case 'DELETE':
        await this.store.deleteManifest(name, reference);
        res.writeHead(202, { 'Content-Length': 0 });
        res.end();
        return;
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on manifests`);
  }

  private async blob(route: Extract<RegistryPath, { kind: 'blob' }>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { name, digest } = route;
    const common = { 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', ETag: `"${digest}"` };
    switch (req.method) {
      case 'HEAD': {
        const info = await this.store.statBlob(name, digest);
        res.writeHead(200, { ...common, 'Content-Length': info.size });
        res.end();
        return;
      }
      case 'GET': {
        const info = await this.store.statBlob(name, digest);
        const range = parseRange(req.headers.range, info.size);
        if (range === 'unsatisfiable') {
          res.writeHead(416, { 'Content-Range': `bytes */${info.size}`, 'Content-Length': 0 });
          res.end();
          return;
        }
        const blob = await this.store.readBlob(name, digest, range);
        if (range) res.writeHead(206, { ...common, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${info.size}` });
        else res.writeHead(200, { ...common, 'Content-Length': info.size });
        // A client that goes away mid-download ends the pipeline with an error: nothing to answer.
        await pipeline(blob.stream, res).catch(() => undefined);
        return;
      }
      case 'DELETE':
        await this.store.deleteBlob(name, digest);
        res.writeHead(202, { 'Content-Length': 0 });
        res.end();
        return;
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on blobs`);
  }

  private async startUpload(name: string, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const mount = q.get('mount');
    const from = q.get('from');
    if (mount && from) {
      const mounted = await this.store.mountBlob(name, mount, from);
      if (mounted) {
        req.resume();
        return created(res, name, mounted.digest);
      }
    }
    const digest = q.get('digest');
    const upload = await this.store.startUpload(name);
    if (digest) {
      const blob = await this.store.completeUpload(name, upload.id, digest, req);
      return created(res, name, blob.digest);
    }
    req.resume();
    accepted(res, name, upload.id, upload.offset);
  }

  private async upload(route: Extract<RegistryPath, { kind: 'upload' }>, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const { name, id } = route;
    switch (req.method) {
      case 'GET': {
        const u = this.store.getUpload(name, id);
        res.writeHead(204, { Location: uploadLocation(name, id), Range: rangeHeader(u.offset), 'Docker-Upload-UUID': id, 'Content-Length': 0 });
        res.end();
        return;
      }
      case 'PATCH': {
        const cr = parseContentRange(req.headers['content-range']);
        if (cr === null) throw new RegistryError('BLOB_UPLOAD_INVALID', 'malformed Content-Range');
        const u = await this.store.appendUpload(name, id, req, cr?.start);
        return accepted(res, name, id, u.offset);
      }
      case 'PUT': {
        const digest = q.get('digest');
        if (!digest) throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to complete an upload');
        const blob = await this.store.completeUpload(name, id, digest, req);
        return created(res, name, blob.digest);
      }
      case 'DELETE':
        await this.store.cancelUpload(name, id);
        req.resume();
        res.writeHead(204, { 'Content-Length': 0 });
        res.end();
        return;
    }
    throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on uploads`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false, link?: string): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
  if (link) headers.Link = link;
  res.writeHead(status, headers);
  res.end(headOnly ? undefined : text);
}

function created(res: ServerResponse, name: string, digest: string): void {
  res.writeHead(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
  res.end();
}

function accepted(res: ServerResponse, name: string, id: string, offset: number): void {
  res.writeHead(202, { Location: uploadLocation(name, id), Range: rangeHeader(offset), 'Docker-Upload-UUID': id, 'Content-Length': 0 });
  res.end();
}

function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

/** The bytes received so far, as distribution reports them ("0-0" for none). */
function rangeHeader(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

function pageSize(q: URLSearchParams): number | undefined {
  const n = q.get('n');
  if (n === null || n === '') return undefined;
  const v = Number(n);
  if (!Number.isInteger(v) || v < 0) throw new RegistryError('UNSUPPORTED', `invalid page size n=${n}`);
  return v;
}

function nextLink(path: string, page: Page<string>, q: URLSearchParams): string | undefined {
  if (page.next === undefined) return undefined;
  const next = new URLSearchParams({ n: q.get('n') ?? '', last: page.next });
  return `<${path}?${next.toString()}>; rel="next"`;
}
