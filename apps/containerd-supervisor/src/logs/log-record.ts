import { InternalError } from '@drydock/errors';

/**
 * The container log format written by native/drydock-logger.c (see the comment
 * at the top of that file). Little-endian, a 16-byte header then the payload:
 *   u8 magic 0xD7 | u8 stream | u8 flags | u8 reserved 0 | u32 length | u64 time ns
 */
export const LOG_RECORD_MAGIC = 0xd7;
export const LOG_RECORD_HEADER_BYTES = 16;
/** Lines longer than this are cut into PARTIAL records (Docker's limit too). */
export const LOG_RECORD_MAX_LINE_BYTES = 16 * 1024;
/**
 * Upper bound a reader accepts for one payload. The logger never writes more
 * than 16 KiB; the slack admits control notes and future writers, while a
 * header with a garbage length is reported as corruption instead of making a
 * reader wait for gigabytes that never come.
 */
export const LOG_RECORD_MAX_PAYLOAD_BYTES = 1024 * 1024;

export const STREAM_CONTROL = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

/** Payload does not end a line; the next record of the same stream continues it. */
export const FLAG_PARTIAL = 0x01;
/** Control record: the run ended (all its output precedes this record). */
export const FLAG_EOF = 0x02;
/** Control record: the payload notes bytes the logger had to drop (disk full). */
export const FLAG_LOST = 0x04;

export type LogStream = 'stdout' | 'stderr' | 'control';

export interface LogRecord {
  stream: LogStream;
  /** PARTIAL flag: the line continues in the next record of this stream. */
  partial: boolean;
  /** EOF control record: end of one container run. */
  eof: boolean;
  /** LOST control record: the logger dropped output (payload says how much). */
  lost: boolean;
  /** CLOCK_REALTIME of the read that produced the record, ns since the epoch. */
  timeNs: bigint;
  /** Payload. May share memory with the chunk it was parsed from. */
  data: Buffer;
  /** Byte offset of the record's header in the stream fed to the parser. */
  offset: number;
  /** Header plus payload bytes. */
  size: number;
}

/** The log file does not follow the record format at `offset`. */
export class CorruptLogError extends InternalError {
  constructor(
    readonly offset: number,
    detail: string,
  ) {
    super(`container log is corrupt at offset ${offset}: ${detail}`);
  }
}

const streamNames: Record<number, LogStream> = {
  [STREAM_CONTROL]: 'control',
  [STREAM_STDOUT]: 'stdout',
  [STREAM_STDERR]: 'stderr',
};

/**
 * Validates the header at buf[at..at+16) (which must be present) and returns
 * the payload length. `offset` is only used for the error message.
 */
export function checkHeader(buf: Buffer, at: number, offset: number): number {
  if (buf[at] !== LOG_RECORD_MAGIC) {
    throw new CorruptLogError(offset, `bad magic 0x${buf[at].toString(16).padStart(2, '0')}`);
  }
  if (streamNames[buf[at + 1]] === undefined) throw new CorruptLogError(offset, `unknown stream ${buf[at + 1]}`);
  const len = buf.readUInt32LE(at + 4);
  if (len > LOG_RECORD_MAX_PAYLOAD_BYTES) throw new CorruptLogError(offset, `record length ${len} is too large`);
  return len;
}

/** Stream number of a validated header. */
export function headerStream(buf: Buffer, at: number): LogStream {
  return streamNames[buf[at + 1]];
}

/** Builds the record at buf[at..) whose header was validated by checkHeader. */
export function decodeRecord(buf: Buffer, at: number, offset: number, len: number): LogRecord {
  const flags = buf[at + 2];
  return {
    stream: headerStream(buf, at),
    partial: (flags & FLAG_PARTIAL) !== 0,
    eof: (flags & FLAG_EOF) !== 0,
    lost: (flags & FLAG_LOST) !== 0,
    timeNs: buf.readBigUInt64LE(at + 8),
    data: buf.subarray(at + LOG_RECORD_HEADER_BYTES, at + LOG_RECORD_HEADER_BYTES + len),
    offset,
    size: LOG_RECORD_HEADER_BYTES + len,
  };
}

export interface EncodeLogRecordInput {
  stream: LogStream;
  data?: Buffer | string;
  partial?: boolean;
  eof?: boolean;
  lost?: boolean;
  timeNs: bigint;
}

/** One record in the logger's format (tests and tools; the logger writes the real ones). */
export function encodeLogRecord(r: EncodeLogRecordInput): Buffer {
  const data = r.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.data) ? r.data : Buffer.from(r.data);
  const out = Buffer.allocUnsafe(LOG_RECORD_HEADER_BYTES + data.length);
  out[0] = LOG_RECORD_MAGIC;
  out[1] = r.stream === 'stdout' ? STREAM_STDOUT : r.stream === 'stderr' ? STREAM_STDERR : STREAM_CONTROL;
  out[2] = (r.partial ? FLAG_PARTIAL : 0) | (r.eof ? FLAG_EOF : 0) | (r.lost ? FLAG_LOST : 0);
  out[3] = 0;
  out.writeUInt32LE(data.length, 4);
  out.writeBigUInt64LE(r.timeNs, 8);
  data.copy(out, LOG_RECORD_HEADER_BYTES);
  return out;
}

/**
 * Streaming parser: feed chunks of the log in order, get whole records back. A
 * torn tail (a record whose write is still in flight, or a chunk boundary) is
 * kept until the rest arrives. Throws CorruptLogError on a bad header; the
 * parser is unusable afterwards.
 */
export class LogRecordParser {
  private pending: Buffer | undefined;
  private consumed: number;

  /** @param startOffset file offset of the first byte that will be fed */
  constructor(startOffset = 0) {
    this.consumed = startOffset;
  }

  /** File offset just past the last whole record returned. */
  get offset(): number {
    return this.consumed;
  }

  /** Bytes of an incomplete record held back. */
  get pendingBytes(): number {
    return this.pending?.length ?? 0;
  }

  /** Parses `chunk` (after any held-back tail) and returns the whole records in it. */
  push(chunk: Buffer): LogRecord[] {
    const buf = this.pending && this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: LogRecord[] = [];
    let at = 0;
    while (buf.length - at >= LOG_RECORD_HEADER_BYTES) {
      const len = checkHeader(buf, at, this.consumed);
      if (buf.length - at < LOG_RECORD_HEADER_BYTES + len) break;
      out.push(decodeRecord(buf, at, this.consumed, len));
      at += LOG_RECORD_HEADER_BYTES + len;
      this.consumed += LOG_RECORD_HEADER_BYTES + len;
    }
    // A bad magic in a torn header is reported as soon as its first byte is here.
    if (at < buf.length && buf[at] !== LOG_RECORD_MAGIC) checkHeader(buf, at, this.consumed);
    this.pending = at < buf.length ? Buffer.from(buf.subarray(at)) : undefined;
    return out;
  }

  /** Generator form of push(). */
  *feed(chunk: Buffer): Generator<LogRecord> {
    yield* this.push(chunk);
  }
}
