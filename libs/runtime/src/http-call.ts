import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

export interface HttpCallOptions {
  method: string;
  headers?: Record<string, string>;
  /** A stream is piped (chunked unless a Content-Length header is given). */
  body?: Readable | Buffer | string;
  signal?: AbortSignal;
}

/**
 * One request between services over node:http(s), resolved at the response head with the body as a stream.
 * Not fetch: its first use loads undici, about 13 MB of resident memory a service keeps for good.
 */
export function httpStream(url: string | URL, o: HttpCallOptions): Promise<IncomingMessage> {
  const u = typeof url === 'string' ? new URL(url) : url;
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: o.method, headers: o.headers, signal: o.signal }, resolve);
    req.on('error', reject);
    const body = o.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

/** httpStream with the response body read whole; more than `limit` bytes is an error. */
export async function httpCall(url: string | URL, o: HttpCallOptions, limit = 1024 * 1024): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const res = await httpStream(url, o);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) {
      res.destroy();
      throw new Error(`${o.method} ${url}: response body larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}
