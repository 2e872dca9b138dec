import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { InvalidArgumentError } from '@drydock/errors';
import { drained } from './drain';
import { decodeBody, type JsonBody } from './go-json';
import type { Ctx, HijackCtx } from './router';

/** API 1.41 labels every hijacked stream raw-stream, multiplexed or not (>= 1.42 says multiplexed-stream). */
export const RAW_STREAM_CONTENT_TYPE = 'application/vnd.docker.raw-stream';

/** dockerd 1.41's answer to `Connection: Upgrade` + `Upgrade: tcp`, byte for byte. */
export const UPGRADE_RESPONSE = `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${RAW_STREAM_CONTENT_TYPE}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`;

/**
 * One hijacked connection after the response head: output bytes to the
 * client, the client's bytes (stdin) and its half-close, and its departure.
 */
export interface RawConn {
  /** Writes output; resolves once the socket can take more (backpressure). Never throws. */
  write(chunk: Buffer): Promise<void>;
  /** Ends our side after the pending output; the connection closes. Idempotent. */
  end(): void;
  /**
   * Delivers the client's bytes. `onEnd` is the client's FIN (stdin EOF): output
   * must go on after it (the CLI half-closes right away when it has no stdin).
   * Call once, right after accepting: until then the bytes are buffered.
   */
  readInput(onData: (chunk: Buffer) => void, onEnd: () => void): void;
  /** Aborted when the client went away before we ended (reset, close, write error). */
  readonly signal: AbortSignal;
}

/**
 * Reads the declared body of an upgrade request from `conn.head` and the socket:
 * Node stops parsing at the head of an upgrade request. Bytes after the body are
 * left in `conn.head` (they are the start of the stream: stdin).
 */
export async function readUpgradeBody(req: IncomingMessage, conn: { head: Buffer; socket: Duplex }, maxBytes: number): Promise<Buffer> {
  if (/chunked/i.test(String(req.headers['transfer-encoding'] ?? ''))) {
    // the docker CLI, dockerode and the Go/Python SDKs send a Content-Length; chunked upgrade bodies are not worth a decoder here
    throw new InvalidArgumentError('chunked request bodies are not supported on hijacked requests');
  }
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len < 0) throw new InvalidArgumentError('invalid Content-Length');
  if (len > maxBytes) throw new InvalidArgumentError(`request body is larger than ${maxBytes} bytes`);
  let buf = conn.head;
  const socket = conn.socket;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((resolve, reject) => {
      const onReadable = () => {
        const c = socket.read() as Buffer | null;
        if (c === null) return;
        cleanup();
        resolve(c);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        socket.off('readable', onReadable);
        socket.off('end', onEnd);
        socket.off('error', onError);
      };
      socket.on('readable', onReadable);
      socket.on('end', onEnd);
      socket.on('error', onError);
      onReadable();
    });
    if (chunk === null) throw new InvalidArgumentError('request body ended early');
    buf = Buffer.concat([buf, chunk]);
  }
  conn.head = buf.subarray(len);
  return buf.subarray(0, len);
}

/** Decodes an upgrade request's JSON body (read by the router) like Ctx.json(). */
export function readUpgradeJson<T>(hctx: HijackCtx, body: JsonBody<T>): T | undefined {
  return decodeBody(body, hctx.body);
}

/**
 * Answers an upgrade request with dockerd's 101 and hands over the socket.
 * Node's HTTP server creates sockets with allowHalfOpen and detaches its own
 * listeners before emitting 'upgrade', so the client's FIN does not end our side.
 */
export function acceptUpgrade(hctx: HijackCtx): RawConn {
  const socket = hctx.socket;
  if (hctx.head.length) socket.unshift(hctx.head);
  socket.write(UPGRADE_RESPONSE);
  (socket as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  return socketConn(socket, socket);
}

/**
 * The same stream for a client that did not ask for an upgrade (some SDKs):
 * dockerd hijacks anyway and answers `200 OK` + raw-stream, no length, no
 * chunking, and closes the connection at the end. Removing both Content-Length
 * and Transfer-Encoding makes Node write exactly that (a body delimited by
 * close). Client bytes are the request body.
 */
export function acceptPlain(ctx: Ctx): RawConn {
  // the client half-closes after its request body: that is stdin EOF, not a hang-up
  ctx.allowHalfOpen();
  const res = ctx.res;
  res.statusCode = 200;
  res.setHeader('Content-Type', RAW_STREAM_CONTENT_TYPE);
  // (Node still labels it keep-alive but closes after the body; an explicit
  // `Connection: close` makes Node end the socket at the client's FIN, cutting the output.)
  res.removeHeader('Content-Length');
  res.removeHeader('Transfer-Encoding');
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  return responseConn(res, ctx.req, ctx.signal);
}

function socketConn(socket: Duplex, input: Readable): RawConn {
  const ac = new AbortController();
  let ended = false;
  const gone = () => {
    if (!ended) ac.abort();
  };
  socket.on('error', gone);
  socket.on('close', gone);
  // input stays paused (buffered) until readInput: bytes sent right after the request are stdin
  return {
    signal: ac.signal,
    write: (chunk) => writeWithBackpressure(socket, chunk, ac.signal, () => ended),
    end: () => {
      if (ended) return;
      ended = true;
      socket.end();
    },
    readInput: inputReader(input),
  };
}

/** RawConn.readInput over a readable: the client's bytes, once, then its FIN. */
function inputReader(input: Readable): RawConn['readInput'] {
  let reading = false;
  return (onData, onEnd) => {
    if (reading) throw new Error('readInput called twice');
    reading = true;
    input.removeAllListeners('data');
    input.on('data', (c: Buffer) => onData(c));
    input.once('end', onEnd);
    input.resume();
  };
}

function responseConn(res: ServerResponse, input: Readable, signal: AbortSignal): RawConn {
  let ended = false;
  input.on('error', () => undefined);
  return {
    signal,
    write: (chunk) => writeWithBackpressure(res, chunk, signal, () => ended),
    end: () => {
      if (ended) return;
      ended = true;
      res.end();
    },
    readInput: inputReader(input),
  };
}

function writeWithBackpressure(w: NodeJS.WritableStream & { writableEnded?: boolean; destroyed?: boolean }, chunk: Buffer, signal: AbortSignal, ended: () => boolean): Promise<void> {
  if (signal.aborted || ended() || w.writableEnded || w.destroyed || chunk.length === 0) return Promise.resolve();
  if (w.write(chunk)) return Promise.resolve();
  return drained(w, signal);
}
