/**
 * Docker's stdcopy framing (multiplexed stdout/stderr on one byte stream), used
 * by non-TTY attach, exec start and GET /containers/{id}/logs:
 *
 *   [stream: 0 stdin | 1 stdout | 2 stderr][0 0 0][uint32 BE payload length] payload
 *
 * Hand-written on purpose: npm has readers (docker-modem's demuxStream) but no
 * maintained writer (docker-raw-stream is unmaintained since 2014 and pulls in
 * through2 0.5), and the encoder is a dozen lines.
 */

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export type StreamId = typeof STDIN | typeof STDOUT | typeof STDERR;

export const FRAME_HEADER_BYTES = 8;
/**
 * Largest payload we put in one frame. The format allows 2^32-1; dockerd's
 * frames are one container write (<= 32 KiB). Capping keeps a client's buffer
 * per frame bounded when a backend chunk is large.
 */
export const MAX_FRAME_PAYLOAD = 256 * 1024;

/** Frames `data` for `stream`: one header + payload per MAX_FRAME_PAYLOAD slice; empty data gives no frame. */
export function encodeFrames(stream: StreamId, data: Uint8Array, maxPayload = MAX_FRAME_PAYLOAD): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += maxPayload) {
    const payload = Buffer.from(data.buffer, data.byteOffset + off, Math.min(maxPayload, data.length - off));
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

export interface Frame {
  stream: StreamId;
  data: Buffer;
}

/**
 * Incremental decoder (for tests and tools): push bytes as they arrive, get the
 * complete frames; a partial frame waits for more bytes.
 */
export class Demuxer {
  private buf = Buffer.alloc(0);

  push(chunk: Uint8Array): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: Frame[] = [];
    while (this.buf.length >= FRAME_HEADER_BYTES) {
      const stream = this.buf[0];
      if (stream > STDERR || this.buf[1] !== 0 || this.buf[2] !== 0 || this.buf[3] !== 0) {
        throw new Error(`not a multiplexed stream: bad frame header ${this.buf.subarray(0, FRAME_HEADER_BYTES).toString('hex')}`);
      }
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < FRAME_HEADER_BYTES + len) break;
      out.push({ stream: stream as StreamId, data: this.buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + len) });
      this.buf = this.buf.subarray(FRAME_HEADER_BYTES + len);
    }
    return out;
  }

  /** Bytes of an incomplete trailing frame. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Decodes a complete multiplexed buffer into per-stream text (tests). */
export function demuxAll(buf: Uint8Array): { stdout: string; stderr: string; frames: Frame[] } {
  const d = new Demuxer();
  const frames = d.push(buf);
  if (d.pending) throw new Error(`truncated frame: ${d.pending} bytes left`);
  const text = (s: StreamId) => Buffer.concat(frames.filter((f) => f.stream === s).map((f) => f.data)).toString('utf8');
  return { stdout: text(STDOUT), stderr: text(STDERR), frames };
}

/**
 * How output bytes go on the wire: framed for non-TTY streams, as they are for
 * TTY streams (a pty merges stdout and stderr, so there is nothing to tell apart).
 */
export function outputEncoder(tty: boolean): (stream: StreamId, data: Uint8Array) => Buffer {
  return tty ? (_s, data) => Buffer.from(data.buffer, data.byteOffset, data.length) : (s, data) => encodeFrames(s, data);
}
