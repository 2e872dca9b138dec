import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import findMyWay, { type HTTPVersion, type Instance } from 'find-my-way';
import { InvalidArgumentError, NotFoundError, toHttpError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { readUpgradeBody } from './hijack';
import { decodeBody, type JsonBody } from './go-json';
import { AUTHZ_MAX_BODY, newAuthzBody, requestBodyWanted, type AuthzBody, type AuthzChain } from '../authz/authz';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';

/** What a plain route handler gets. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from the path prefix), or the server's. */
  apiVersion: string;
  log: Logger;
  /**
   * Reads the JSON body and decodes it into its Go type (docker/request-bodies.ts), with
   * dockerd's texts for malformed JSON and wrong types (400). JSON null -> undefined.
   */
  json<T>(body: JsonBody<T>): Promise<T | undefined>;
  /** The raw request body, at most the gateway's JSON limit. */
  rawBody(): Promise<Buffer>;
  /** Sends a JSON response. */
  send(status: number, body: unknown, headers?: Record<string, string>): void;
  /** 204 No Content (or another empty status). */
  empty(status?: number): void;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The client's FIN does not mean it went away (a hijacked stream with stdin, without an upgrade). */
  allowHalfOpen(): void;
}

/** What a hijacking route (attach, exec start) gets: the raw socket after the request body. */
export interface HijackCtx {
  req: IncomingMessage;
  socket: Duplex;
  /** The request's declared body (Content-Length): parameters such as exec start's JSON, never stdin. */
  body: Buffer;
  /** Bytes the client sent after the body, before the 101 (the first bytes of stdin). */
  head: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  log: Logger;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;
export type HijackHandler = (ctx: HijackCtx) => Promise<void> | void;
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/**
 * The Docker API router: routes are registered without the version prefix and
 * match `/vX.Y/...` and unversioned paths alike, as dockerd does. Upgrade
 * requests (attach, exec start) go to hijack routes, falling back to the plain
 * handler for clients that do not ask for an upgrade.
 */
export class Router {
  private readonly plain: Instance<HTTPVersion.V1> = findMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 1024 });
  private readonly hijack: Instance<HTTPVersion.V1> = findMyWay({ ignoreTrailingSlash: true, caseSensitive: true, maxParamLength: 1024 });
  private readonly handlers = new Map<string, Handler>();
  private readonly hijackers = new Map<string, HijackHandler>();

  constructor(
    private readonly maxJsonBytes: number,
    /** dockerd's --authorization-plugin chain; absent, requests go straight to their routes. */
    private readonly authz?: AuthzChain,
  ) {}

  on(method: Method | Method[], path: string, handler: Handler): void {
    for (const m of Array.isArray(method) ? method : [method]) {
      const key = `${m} ${path}`;
      this.handlers.set(key, handler);
      this.plain.on(m, path, () => undefined, { key });
    }
  }

  onHijack(method: Method, path: string, handler: HijackHandler): void {
    const key = `${method} ${path}`;
    this.hijackers.set(key, handler);
    this.hijack.on(method, path, () => undefined, { key });
  }

  /** Splits `/v1.41/containers/json` into version and path; rejects versions dockerd rejects. */
  static splitVersion(url: string): { version: string; path: string; query: URLSearchParams } {
    const r = Router.parseVersion(url);
    Router.checkVersion(r.version);
    return r;
  }

  /** The version prefix taken off, not yet checked (dockerd's authz middleware runs before its version check). */
  static parseVersion(url: string): { version: string; path: string; query: URLSearchParams } {
    const q = url.indexOf('?');
    let path = q >= 0 ? url.slice(0, q) : url;
    const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    let version = API_VERSION;
    const m = /^\/v([0-9]+(?:\.[0-9]+)*)(\/.*)$/.exec(path);
    if (m) {
      version = m[1];
      path = m[2];
    }
    return { version, path, query };
  }

  static checkVersion(version: string): void {
    {
      if (compareVersions(version, API_VERSION) > 0) {
        throw new InvalidArgumentError(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        throw new InvalidArgumentError(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    // The server keeps sockets half-open (for hijacked streams), so a client that goes
    // away mid-stream shows up as the socket's 'end', not as the response's 'close'.
    let halfOpen = false;
    const socket = req.socket;
    const onEnd = () => {
      if (!halfOpen) ac.abort();
    };
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    res.once('finish', () => {
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    });
    let ctx: Ctx | undefined;
    try {
      const { version, path, query } = this.authz ? Router.parseVersion(req.url ?? '/') : Router.splitVersion(req.url ?? '/');
      const found = this.plain.find(req.method as Method, safeDecodePath(path));
      const handler = found ? this.handlers.get((found.store as { key: string }).key) : undefined;
      if (!found || !handler) throw new NotFoundError(`page not found`);
      let guard: Guard | undefined;
      if (this.authz) {
        // the body the plugins see is the body the route reads
        const body = requestBodyWanted(req) ? await readCapped(req, AUTHZ_MAX_BODY) : undefined;
        const authzBody = newAuthzBody(req, body);
        await this.authz.request(authzBody);
        guard = { chain: this.authz, body: authzBody, preread: body };
        Router.checkVersion(version);
      }
      ctx = makeCtx(req, res, found.params as Record<string, string>, query, version, log, ac.signal, this.maxJsonBytes, () => (halfOpen = true), guard);
      await handler(ctx);
      if (guard?.pending) await guard.pending;
      else if (guard && res.headersSent) {
        // a streamed answer (logs -f, events, pulls) has left already: the plugins see its status and headers only
        const g = guard;
        g.chain.response(g.body, res.statusCode, res.getHeaders(), undefined).catch((err) => log.warn({ err: (err as Error).message }, 'authorization plugin refused a streamed response after it was sent'));
      }
    } catch (err) {
      sendError(res, err, log);
    } finally {
      // A handler that stops because its client left (a detached `docker run`'s /wait) may leave the
      // response open; with half-open sockets nothing else would ever close it, so it would stay for good.
      if (ac.signal.aborted && !res.writableEnded) res.destroy();
    }
  }

  /** Returns false when no hijack route matches (the server then treats it as a plain request). */
  matchHijack(req: IncomingMessage): boolean {
    try {
      const { path } = Router.splitVersion(req.url ?? '/');
      return !!this.hijack.find(req.method as Method, safeDecodePath(path));
    } catch {
      return false;
    }
  }

  async handleHijack(req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger): Promise<void> {
    try {
      const { version, path, query } = Router.parseVersion(req.url ?? '/');
      const found = this.hijack.find(req.method as Method, safeDecodePath(path));
      const handler = found ? this.hijackers.get((found.store as { key: string }).key) : undefined;
      if (!found || !handler) throw new NotFoundError('page not found');
      // dockerode sends attach's options as a JSON body before the upgrade: only the bytes
      // after the declared body belong to the stream, for every hijacking route alike
      const upgraded: { head: Buffer; body: Buffer; socket: Duplex } = { head, body: Buffer.alloc(0), socket };
      upgraded.body = await readUpgradeBody(req, upgraded, this.maxJsonBytes);
      // dockerd asks the plugins before a hijack and never about the stream that follows
      if (this.authz) await this.authz.request(newAuthzBody(req, requestBodyWanted(req) ? upgraded.body : undefined));
      Router.checkVersion(version);
      await handler({ req, socket, head: upgraded.head, body: upgraded.body, params: found.params as Record<string, string>, query, apiVersion: version, log });
    } catch (err) {
      // before the 101 a hijack route fails like any request
      if (socket.writable) {
        const { status, message, classified } = toHttpError(err);
        if (!classified) log.error({ err }, 'request failed');
        const body = JSON.stringify({ message });
        socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
    }
  }
}

/** Percent-decoding happens per parameter in find-my-way; a malformed escape is a 400, not a crash. */
function safeDecodePath(p: string): string {
  try {
    decodeURIComponent(p);
  } catch {
    throw new InvalidArgumentError(`invalid URL path: ${p}`);
  }
  return p;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function makeCtx(
  req: IncomingMessage,
  res: ServerResponse,
  params: Record<string, string>,
  query: URLSearchParams,
  apiVersion: string,
  log: Logger,
  signal: AbortSignal,
  maxJson: number,
  allowHalfOpen: () => void,
  guard?: Guard,
): Ctx {
  const readBody = () => (guard?.preread ? Promise.resolve(guard.preread) : readCapped(req, maxJson));
  /** Sends now, or once the plugins allowed the answer (the router awaits guard.pending). */
  const answer = (status: number, headers: Record<string, string | number>, body: Buffer | undefined) => {
    const write = () => {
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!guard) return write();
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    guard.pending = guard.chain.response(guard.body, status, res.getHeaders(), body).then(() => {
      for (const k of Object.keys(headers)) res.removeHeader(k);
      write();
    }, (err) => {
      for (const k of Object.keys(headers)) res.removeHeader(k);
      throw err;
    });
  };
  return {
    allowHalfOpen,
    req,
    res,
    params,
    query,
    apiVersion,
    log,
    signal,
    json: async <T>(body: JsonBody<T>) => decodeBody(body, await readBody()),
    rawBody: readBody,
    send: (status, body, headers) => {
      const text = Buffer.from(JSON.stringify(body) + '\n');
      answer(status, { 'Content-Type': 'application/json', 'Content-Length': text.length, ...(headers ?? {}) }, text);
    },
    empty: (status = 204) => answer(status, {}, undefined),
  };
}

/** A request the authz plugins allowed: its body for them and the route, and the answer they are asked about. */
interface Guard {
  chain: AuthzChain;
  body: AuthzBody;
  preread?: Buffer;
  pending?: Promise<void>;
}

async function readCapped(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new InvalidArgumentError(`request body is larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes Docker's error shape; unclassified errors are logged with their stack, clients see a generic text. */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  const { status, message, classified } = toHttpError(err);
  if (!classified) log.error({ err }, 'request failed');
  if (res.headersSent) {
    // a streaming response already started: all we can do is end it
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function statusText(status: number): string {
  return (
    {
      200: 'OK',
      204: 'No Content',
      304: 'Not Modified',
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      409: 'Conflict',
      413: 'Payload Too Large',
      500: 'Internal Server Error',
      501: 'Not Implemented',
      503: 'Service Unavailable',
    } as Record<number, string>
  )[status] ?? 'Error';
}
