import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { TransportError, UpstreamError } from './errors';
import { DeadlineError, goNetReason, goUrlError } from './go-errors';

export interface TransportOptions {
  /** Connection + response headers (and a whole small body) must arrive within this. */
  timeoutMs: number;
  /** A streaming body (either direction) that moves no byte for this long is cut. */
  stallMs: number;
  userAgent: string;
}

export interface SendOptions {
  method: string;
  url: URL;
  headers?: OutgoingHttpHeaders;
  /** A Buffer is resent on redirects; a stream is sent once, with no deadline while it flows. */
  body?: Buffer | Readable;
  /** false: HTTPS without certificate verification (insecure registries). */
  tlsVerify: boolean;
  /** The caller's cancellation: destroys the request and its response. */
  signal?: AbortSignal;
  /** Follow redirects (GET/HEAD of blobs go to storage backends and CDNs). */
  followRedirects?: boolean;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every WWW-Authenticate value (one header may be sent several times). */
  challenges: string[];
  /** The URL that answered (after redirects). */
  url: URL;
}

export interface StreamingResponse extends UpstreamResponse {
  body: IncomingMessage;
}

export interface BufferedResponse extends UpstreamResponse {
  body: Buffer;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/**
 * HTTP client of the upstream side: keep-alive agents per TLS policy, a deadline on
 * every call, Go-worded transport errors (TransportError) so callers can fall back
 * to the next endpoint as dockerd does. Knows nothing about registries.
 */
export class HttpTransport {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsInsecure = new HttpsAgent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

  constructor(private readonly opts: TransportOptions) {}

  /** A response whose body streams; only the stall limit applies once headers arrived. */
  async open(o: SendOptions): Promise<StreamingResponse> {
    const res = await this.follow(o);
    // The consumer may be between reads when the connection breaks: the error stays on
    // the stream (`errored`, the next read) instead of crashing the process unheard.
    res.body.on('error', () => undefined);
    res.body.setTimeout(this.opts.stallMs, () => res.body.destroy(new TransportError(goUrlError(o.method, res.url, 'net/http: request canceled (body stalled)'))));
    return res;
  }

  /** A response read whole (at most `limit` bytes), all within the deadline. */
  async fetch(o: SendOptions, limit = 4 * 1024 * 1024): Promise<BufferedResponse> {
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    const res = await this.follow(o, deadline);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => res.body.destroy(new DeadlineError());
        deadline.addEventListener('abort', onAbort, { once: true });
        res.body.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) res.body.destroy(new UpstreamError(502, 'SIZE_INVALID', `${o.method} ${res.url}: response body larger than ${limit} bytes`, { origin: 'proxy' }));
          else chunks.push(c);
        });
        res.body.once('end', resolve);
        res.body.once('error', reject);
        res.body.once('close', () => {
          deadline.removeEventListener('abort', onAbort);
          if (!res.body.complete) reject(new Error('unexpected EOF'));
        });
      });
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (err instanceof UpstreamError) throw err;
      throw new TransportError(goUrlError(o.method, res.url, goNetReason(err, res.url)), err);
    }
    return { ...res, body: Buffer.concat(chunks) };
  }

  /** Drops idle keep-alive sockets; requests in flight are their callers' to cancel. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
    this.httpsInsecure.destroy();
  }

  private async follow(o: SendOptions, deadline?: AbortSignal): Promise<StreamingResponse> {
    let url = o.url;
    let headers = { ...o.headers };
    let tlsVerify = o.tlsVerify;
    for (let hop = 0; ; hop++) {
      const res = await this.send({ ...o, url, headers, tlsVerify }, deadline);
      const location = res.headers.location;
      if (!o.followRedirects || !REDIRECTS.has(res.status) || !location || hop >= MAX_REDIRECTS || o.body instanceof Readable) return res;
      res.body.resume();
      const next = new URL(location, url);
      if (next.host !== url.host) {
        // Credentials are for the registry, never for the storage or CDN it redirects to.
        const { authorization: _drop, Authorization: _drop2, ...rest } = headers as Record<string, unknown>;
        headers = rest as OutgoingHttpHeaders;
        tlsVerify = true;
      }
      url = next;
    }
  }

  private send(o: SendOptions, deadline?: AbortSignal): Promise<StreamingResponse> {
    return new Promise((resolve, reject) => {
      const https = o.url.protocol === 'https:';
      const agent = https ? (o.tlsVerify ? this.https : this.httpsInsecure) : this.http;
      const headers: OutgoingHttpHeaders = { 'User-Agent': this.opts.userAgent, ...o.headers };
      if (Buffer.isBuffer(o.body)) headers['Content-Length'] = o.body.length;
      const req = (https ? httpsRequest : httpRequest)(o.url, { method: o.method, headers, agent, signal: o.signal });
      const streamingBody = o.body instanceof Readable;
      let settled = false;
      // The deadline runs from the start, except while a streaming body uploads:
      // then only the stall limit applies until the last byte is out.
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        timer = setTimeout(() => req.destroy(new DeadlineError()), this.opts.timeoutMs);
      };
      const onDeadline = () => req.destroy(new DeadlineError());
      deadline?.addEventListener('abort', onDeadline, { once: true });
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        deadline?.removeEventListener('abort', onDeadline);
      };
      if (streamingBody) {
        req.setTimeout(this.opts.stallMs, () => req.destroy(new DeadlineError()));
        req.once('finish', () => {
          req.setTimeout(0);
          arm();
        });
      } else arm();
      req.once('response', (res) => {
        settled = true;
        cleanup();
        req.setTimeout(0);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, challenges: res.headersDistinct['www-authenticate'] ?? [], url: o.url, body: res });
      });
      req.once('error', (err) => {
        cleanup();
        if (settled) return;
        settled = true;
        if (o.signal?.aborted) return reject(o.signal.reason);
        reject(new TransportError(goUrlError(o.method, o.url, goNetReason(err, o.url)), err));
      });
      if (streamingBody) {
        const body = o.body as Readable;
        body.once('error', (err) => req.destroy(err));
        body.pipe(req);
      } else req.end(o.body);
    });
  }
}
