import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, open as openFile, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fromGrpcError, InternalError, isAlreadyExists, isNotFound } from '@drydock/errors';
import { ctrContent, type ctrTypesDescriptor } from '@drydock/proto';
import type { Logger } from '@drydock/logging';
import type { ContainerdClient } from '../containerd/containerd-client';
import { contentStoreRoot } from '../containerd/introspection';

export type Descriptor = ctrTypesDescriptor.Descriptor;
type WriteRequest = ctrContent.WriteContentRequest;
type WriteResponse = ctrContent.WriteContentResponse;

/** gRPC metadata key naming the lease a call's new resources are added to (containerd's leases.GRPCHeader). */
export const LEASE_HEADER = 'containerd-lease';

/** Bytes per Write message: large enough to amortise per-message cost, far below the 64 MiB channel limit. */
const MESSAGE_BYTES = 1024 * 1024;
/** Bytes sent but not yet acknowledged: bounds memory while keeping containerd busy. */
const WINDOW_BYTES = 8 * MESSAGE_BYTES;

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** A unique ingest ref; containerd locks a ref for the duration of one write. */
export function ingestRef(prefix: string): string {
  return `${prefix}-${Date.now()}-${randomBytes(6).toString('hex')}`;
}

export interface CommitResult {
  digest: string;
  size: number;
  /** True if the blob was already in the store (containerd answered ALREADY_EXISTS). */
  existed: boolean;
}

/**
 * One streaming Content.Write session. Data is sent in ~1 MiB messages without
 * waiting for each answer (containerd answers every message in order with the
 * offset it reached); at most WINDOW_BYTES are unacknowledged at any time.
 * Every message after the first carries its offset: containerd truncates the
 * ingest when a write arrives at offset 0 while data is present.
 */
export class ContentWriter {
  private readonly call;
  private readonly waiters: { resolve: (r: WriteResponse) => void; reject: (e: Error) => void }[] = [];
  private readonly inflight: { done: Promise<WriteResponse>; end: number; bytes: number }[] = [];
  private inflightBytes = 0;
  private needDrain = false;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private offset = 0;
  private failure?: Error;
  private finished = false;
  /** containerd's final status arrived: the stream is over on both sides. */
  private settled = false;

  constructor(
    private readonly cc: ContainerdClient,
    readonly ref: string,
    opts: { leaseId?: string; timeoutMs: number },
  ) {
    const md = cc.metadata(opts.leaseId ? { [LEASE_HEADER]: opts.leaseId } : undefined);
    this.call = cc.content.write(md, { deadline: cc.deadline(opts.timeoutMs) });
    this.call.on('data', (res: WriteResponse) => this.waiters.shift()?.resolve(res));
    this.call.on('status', () => (this.settled = true));
    this.call.on('error', (err: Error) => {
      this.failure ??= fromGrpcError(err);
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    });
    this.call.on('end', () => {
      // containerd closes the stream after a commit; anything still waiting lost its answer.
      const err = this.failure ?? new InternalError('containerd closed the content write stream early');
      for (const w of this.waiters.splice(0)) w.reject(err);
    });
  }

  /**
   * Opens the ingest (a Stat that takes containerd's lock on the ref) and
   * returns the bytes it already holds: writes continue from there, so an
   * interrupted ingest under a stable ref resumes (pull).
   */
  async open(): Promise<number> {
    const res = await this.request({ action: ctrContent.WriteAction.STAT, ref: this.ref });
    this.offset = Number(res.offset ?? 0);
    return this.offset;
  }

  /** Queues bytes; waits only when the unacknowledged window is full. */
  async write(data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    if (this.bufferedBytes >= MESSAGE_BYTES) await this.flush();
  }

  /** Sends what is buffered and commits the blob, verifying size and digest on containerd's side. */
  async commit(size: number, expected: string, labels: Record<string, string>): Promise<CommitResult> {
    try {
      await this.flush();
      const res = await this.request({
        action: ctrContent.WriteAction.COMMIT,
        offset: String(this.offset),
        total: String(size),
        expected,
        labels,
      });
      await Promise.all(this.inflight.splice(0).map((f) => f.done));
      this.inflightBytes = 0;
      if (res.digest !== expected || Number(res.offset) !== size) {
        throw new InternalError(`content commit mismatch: got ${res.digest} (${res.offset} bytes), want ${expected} (${size} bytes)`);
      }
      return { digest: expected, size, existed: false };
    } catch (err) {
      if (isAlreadyExists(err)) return { digest: expected, size, existed: true };
      throw err;
    } finally {
      this.finish();
    }
  }

  /** Sends `data` and commits it in the stream's first message (small blobs). */
  async commitOnce(data: Buffer, expected: string, labels: Record<string, string>): Promise<CommitResult> {
    try {
      const res = await this.request({
        action: ctrContent.WriteAction.COMMIT,
        ref: this.ref,
        total: String(data.length),
        expected,
        data,
        labels,
      });
      if (res.digest !== expected) throw new InternalError(`content commit mismatch: got ${res.digest}, want ${expected}`);
      return { digest: expected, size: data.length, existed: false };
    } catch (err) {
      if (isAlreadyExists(err)) return { digest: expected, size: data.length, existed: true };
      throw err;
    } finally {
      this.finish();
    }
  }

  /**
   * Sends what is buffered, waits for containerd to acknowledge it, and ends
   * the stream without committing: the ingest keeps every byte written, and a
   * writer with the same ref resumes it (pull retries). Never throws.
   */
  async detach(): Promise<void> {
    try {
      await this.flush();
      await Promise.all(this.inflight.splice(0).map((f) => f.done));
      this.inflightBytes = 0;
    } catch {
      // Whatever containerd has is what the next open() reports.
    }
    this.finish(true);
  }

  /** Cancels the write and drops the partial ingest. Never throws. */
  async abort(): Promise<void> {
    this.finish(true);
    try {
      await this.cc.unary(this.cc.content, this.cc.content.abort, { ref: this.ref });
    } catch {
      // Already gone (never opened, or containerd dropped it with the stream); GC takes leftovers with the lease.
    }
  }

  /** Ends the stream without committing and waits until containerd has closed its side (and released the ref's lock). Never throws. */
  async close(): Promise<void> {
    if (this.finished || this.settled || this.failure) return this.finish();
    const closed = new Promise<void>((resolve) => {
      this.call.once('status', () => resolve());
      this.call.once('error', () => resolve());
    });
    this.finish();
    await closed;
  }

  /**
   * Commits an ingest whose bytes are already in its data file (LocalIngest) in
   * the stream's first message: containerd resumes the ingest (hashing the file),
   * checks the offset, then size and digest as for any commit.
   */
  async commitResumed(written: number, size: number, expected: string, labels: Record<string, string>): Promise<CommitResult> {
    try {
      const res = await this.request({
        action: ctrContent.WriteAction.COMMIT,
        ref: this.ref,
        // Where the file ends: an offset of 0 would make containerd truncate the ingest.
        offset: String(written),
        total: String(size),
        expected,
        labels,
      });
      if (res.digest !== expected || Number(res.offset) !== size) {
        throw new InternalError(`content commit mismatch: got ${res.digest} (${res.offset} bytes), want ${expected} (${size} bytes)`);
      }
      return { digest: expected, size, existed: false };
    } catch (err) {
      if (isAlreadyExists(err)) return { digest: expected, size, existed: true };
      throw err;
    } finally {
      this.finish();
    }
  }

  private finish(cancel = false): void {
    if (this.finished) return;
    this.finished = true;
    if (cancel) this.call.cancel();
    else this.call.end();
  }

  private async flush(): Promise<void> {
    if (this.bufferedBytes === 0) return;
    const data = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    const req: WriteRequest = { action: ctrContent.WriteAction.WRITE, offset: String(this.offset), data };
    this.offset += data.length;
    const done = this.request(req);
    // Errors surface through the window below or the commit; don't let them go unhandled meanwhile.
    done.catch(() => undefined);
    this.inflight.push({ done, end: this.offset, bytes: data.length });
    this.inflightBytes += data.length;
    await this.drained();
    while (this.inflightBytes > WINDOW_BYTES) {
      const oldest = this.inflight.shift()!;
      this.inflightBytes -= oldest.bytes;
      const res = await oldest.done;
      if (Number(res.offset) !== oldest.end) {
        throw new InternalError(`content write out of step: containerd is at ${res.offset}, expected ${oldest.end}`);
      }
    }
  }

  private request(req: WriteRequest): Promise<WriteResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<WriteResponse>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.needDrain = !this.call.write(req);
    return p;
  }

  /** Respects HTTP/2 flow control: waits until grpc-js has handed the last message on. */
  private drained(): Promise<void> {
    if (!this.needDrain || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.call.off('drain', done);
        this.call.off('error', done);
        this.call.off('close', done);
        this.needDrain = false;
        resolve();
      };
      this.call.on('drain', done);
      this.call.on('error', done);
      this.call.on('close', done);
    });
  }
}

/**
 * Writes a small blob (config, manifest) in one Commit message under the lease.
 * If containerd already has it, its labels are brought up to date (they carry
 * the GC references) and it is added to the lease so GC cannot race the caller.
 */
export async function writeBlob(
  cc: ContainerdClient,
  data: Buffer,
  labels: Record<string, string>,
  opts: { leaseId: string; timeoutMs: number },
): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  const w = new ContentWriter(cc, ingestRef('drydock-blob'), opts);
  try {
    const res = await w.commitOnce(data, digest, labels);
    if (res.existed) {
      await addLeaseResource(cc, opts.leaseId, { id: digest, type: 'content' });
      await setContentLabels(cc, digest, labels);
    }
    return { digest, size: data.length };
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Sets (adds or replaces) the given labels on a blob, keeping its others. */
export async function setContentLabels(cc: ContainerdClient, digest: string, labels: Record<string, string>): Promise<void> {
  const keys = Object.keys(labels);
  if (keys.length === 0) return;
  await cc.unary(cc.content, cc.content.update, {
    info: { digest, labels },
    updateMask: keys.map((k) => `labels.${k}`),
  });
}

/** Protects an existing object with the lease (type `content` or `snapshots/<snapshotter>`). */
export async function addLeaseResource(cc: ContainerdClient, leaseId: string, resource: { id: string; type: string }): Promise<void> {
  await cc.unary(cc.leases, cc.leases.addResource, { id: leaseId, resource });
}

/** Reads a whole blob (manifests and configs: small). Refuses blobs above maxBytes. */
export async function readBlob(cc: ContainerdClient, digest: string, opts: { maxBytes: number; timeoutMs: number }): Promise<Buffer> {
  const info = await cc.unary(cc.content, cc.content.info, { digest });
  const size = Number(info.info?.size ?? 0);
  if (size > opts.maxBytes) throw new InternalError(`blob ${digest} is ${size} bytes, more than the ${opts.maxBytes} expected of metadata`);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const call = cc.content.read({ digest }, cc.metadata(), { deadline: cc.deadline(opts.timeoutMs) });
    call.on('data', (res: ctrContent.ReadContentResponse) => {
      if (res.data) chunks.push(res.data);
    });
    call.on('error', (err: Error) => reject(fromGrpcError(err)));
    call.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Blob info, or undefined if containerd does not have it. */
export async function contentInfo(cc: ContainerdClient, digest: string): Promise<ctrContent.Info | undefined> {
  try {
    return (await cc.unary(cc.content, cc.content.info, { digest })).info;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * containerd's local content store as seen from this process (same machine, same user):
 * an ingest keeps its bytes in `<root>/ingest/<sha256 of the backend ref>/data`, the
 * backend ref (`<namespace>/<n>/<ref>`, the metadata store's key) in the `ref` file
 * beside it. Writing that file directly costs a fraction of streaming the bytes over
 * gRPC (Content.Write is ~0.5 s of CPU per 100 MB between Node and containerd);
 * containerd still hashes the file when the ingest is resumed for its commit and
 * verifies size and digest itself.
 */
export class LocalIngest {
  constructor(
    readonly root: string,
    private readonly namespace: string,
  ) {}

  /**
   * Opens a committed blob's file in the content root for reading (save, push), or
   * undefined when it is not there: Content.Read costs ~0.4 s of CPU per 100 MB, the
   * file ~0.1 s. containerd never rewrites a committed blob, and an open file stays
   * readable even if GC unlinks it meanwhile.
   */
  async openBlob(digest: string): Promise<FileHandle | undefined> {
    const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
    if (!m) return undefined;
    try {
      return await openFile(join(this.root, 'blobs', m[1], m[2]), 'r');
    } catch {
      return undefined;
    }
  }

  /**
   * A LocalIngest when containerd reports its content root and an ingest opened there
   * shows up as a writable file from here; otherwise undefined (writes go over gRPC).
   */
  static async probe(cc: ContainerdClient, logger: Logger): Promise<LocalIngest | undefined> {
    const log = logger.child({ component: 'local-ingest' });
    let root: string | undefined;
    try {
      root = await contentStoreRoot(cc);
    } catch (err) {
      log.info({ err }, 'containerd introspection failed; content written over gRPC');
      return undefined;
    }
    if (!root) {
      log.info('containerd reports no local content root; content written over gRPC');
      return undefined;
    }
    const local = new LocalIngest(root, cc.namespace);
    const w = new ContentWriter(cc, ingestRef('drydock-ingest-probe'), { timeoutMs: 30000 });
    try {
      await w.open();
      const data = await local.dataPath(w.ref);
      if (!data) throw new Error(`no ingest for ${w.ref} under ${join(root, 'ingest')}`);
      await access(data, fsConstants.W_OK);
      log.info({ root }, 'content written straight into containerd ingests');
      return local;
    } catch (err) {
      log.info({ err, root }, 'containerd ingests are not writable from here; content written over gRPC');
      return undefined;
    } finally {
      await w.abort();
    }
  }

  /** The data file of the open ingest `ref` in this namespace, or undefined if none is found. */
  async dataPath(ref: string): Promise<string | undefined> {
    const dir = join(this.root, 'ingest');
    const prefix = `${this.namespace}/`;
    const suffix = `/${ref}`;
    const found: string[] = [];
    for (const d of await readdir(dir).catch(() => [] as string[])) {
      const backend = await readFile(join(dir, d, 'ref'), 'utf8').catch(() => '');
      if (backend.startsWith(prefix) && backend.endsWith(suffix) && /^\d+$/.test(backend.slice(prefix.length, -suffix.length))) {
        found.push(join(dir, d, 'data'));
      }
    }
    // A leftover directory of an older ingest under the same ref makes the match ambiguous: gRPC then.
    return found.length === 1 ? found[0] : undefined;
  }
}

/** Bytes collected before one positional write to the ingest file. */
const FILE_WRITE_BYTES = 1024 * 1024;
/** Bytes written between two background fdatasyncs of an ingest file (see FileIngestWriter.syncAhead). */
const SYNC_AHEAD_BYTES = 8 * 1024 * 1024;

/**
 * A resumable layer write with ContentWriter's surface (open, write, commit, detach,
 * abort) that puts the bytes straight into the ingest's data file. A Stat stream holds
 * containerd's lock on the ref (and adds the ingest to the lease) while the file is
 * written; the commit is a second stream that resumes the ingest. Where the ingest
 * file cannot be found, the bytes go over the Stat stream as usual.
 */
export class FileIngestWriter {
  private readonly lock: ContentWriter;
  private file?: FileHandle;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Where the next write goes (bytes written or being written). */
  private offset = 0;
  /** The write under way: the next batch is collected meanwhile, so the socket keeps flowing. */
  private writing: Promise<void> = Promise.resolve();
  /** A background fdatasync under way, and where the file ended when the last one started. */
  private syncing: Promise<void> | undefined;
  private syncedTo = 0;

  constructor(
    private readonly cc: ContainerdClient,
    private readonly local: LocalIngest,
    readonly ref: string,
    private readonly opts: { leaseId?: string; timeoutMs: number },
    private readonly log?: Logger,
  ) {
    this.lock = new ContentWriter(cc, ref, opts);
  }

  /** Opens the ingest; returns the bytes it holds (the data file's size). */
  async open(): Promise<number> {
    this.offset = await this.lock.open();
    const path = await this.local.dataPath(this.ref);
    if (path) {
      try {
        this.file = await openFile(path, 'r+');
      } catch (err) {
        this.log?.warn({ err, path }, 'ingest file not writable; writing over gRPC');
      }
    } else {
      this.log?.warn({ ref: this.ref }, 'ingest file not found; writing over gRPC');
    }
    return this.offset;
  }

  get direct(): boolean {
    return this.file !== undefined;
  }

  async write(data: Buffer): Promise<void> {
    if (!this.file) return this.lock.write(data);
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= FILE_WRITE_BYTES) await this.flush(false);
  }

  async commit(size: number, expected: string, labels: Record<string, string>): Promise<CommitResult> {
    if (!this.file) return this.lock.commit(size, expected, labels);
    try {
      await this.flush();
    } finally {
      await this.closeFile();
    }
    await this.lock.close();
    const w = new ContentWriter(this.cc, this.ref, this.opts);
    return w.commitResumed(this.offset, size, expected, labels);
  }

  /** Keeps what was written (a later open resumes from the file's size). Never throws. */
  async detach(): Promise<void> {
    if (!this.file) return this.lock.detach();
    try {
      await this.flush();
    } catch {
      // The file holds what it holds; containerd re-reads it on resume.
    }
    await this.closeFile();
    await this.lock.close();
  }

  /** Drops the ingest. Never throws. */
  async abort(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    await this.closeFile();
    await this.lock.abort();
  }

  /** Waits for the previous write (its failure surfaces here), starts the next; `wait`: and waits for that one too. */
  private async flush(wait = true): Promise<void> {
    await this.writing;
    if (this.file && this.pendingBytes > 0) {
      const bufs = this.pending;
      const n = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      const at = this.offset;
      this.offset += n;
      const file = this.file;
      this.writing = file.writev(bufs, at).then(({ bytesWritten }) => {
        if (bytesWritten !== n) throw new InternalError(`short write to the ingest of ${this.ref}: ${bytesWritten} of ${n} bytes`);
        this.syncAhead(file, at + n);
      });
      // Awaited by the next flush, commit or detach; never left unhandled meanwhile.
      this.writing.catch(() => undefined);
    }
    if (wait) await this.writing;
  }

  /**
   * containerd fsyncs the ingest when the Stat stream closes (its writer's Close), before the
   * commit: a background fdatasync every SYNC_AHEAD_BYTES leaves it little to flush then.
   */
  private syncAhead(file: FileHandle, end: number): void {
    if (this.syncing || end - this.syncedTo < SYNC_AHEAD_BYTES) return;
    this.syncedTo = end;
    this.syncing = file.datasync().then(
      () => (this.syncing = undefined),
      // containerd's own fsync reports what matters.
      () => (this.syncing = undefined),
    );
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    await this.writing.catch(() => undefined);
    await this.syncing;
    await f.close().catch(() => undefined);
  }
}
