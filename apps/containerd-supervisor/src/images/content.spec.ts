import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Metadata, status } from '@grpc/grpc-js';
import { AlreadyExistsError, InternalError } from '@drydock/errors';
import { ctrContent } from '@drydock/proto';
import type { ContainerdClient } from '../containerd/containerd-client';
import { ContentWriter } from './content';

type Req = ctrContent.WriteContentRequest;

/** A Content.Write stream that behaves like containerd's contentserver: one answer per message, offsets checked. */
class FakeWriteCall extends EventEmitter {
  data: Buffer[] = [];
  offset = 0;
  requests: Req[] = [];
  maxUnanswered = 0;
  private unanswered = 0;
  private writes = 0;
  cancelled = false;
  ended = false;
  constructor(private readonly opts: { failAtOffset?: number; existing?: string } = {}) {
    super();
  }
  write(req: Req): boolean {
    this.requests.push(req);
    this.unanswered += (req.data?.length ?? 0);
    this.maxUnanswered = Math.max(this.maxUnanswered, this.unanswered);
    setImmediate(() => this.handle(req));
    // Push back now and then, as HTTP/2 flow control would.
    const ok = ++this.writes % 3 !== 0;
    if (!ok) setImmediate(() => this.emit('drain'));
    return ok;
  }
  private handle(req: Req): void {
    if (this.cancelled) return;
    const off = Number(req.offset ?? 0);
    if (req.action !== ctrContent.WriteAction.STAT && off > 0 && off !== this.offset) {
      return this.fail(status.OUT_OF_RANGE, `write @${off} must occur at current offset ${this.offset}`);
    }
    if (req.data?.length) {
      this.data.push(req.data);
      this.offset += req.data.length;
      this.unanswered -= req.data.length;
    }
    if (this.opts.failAtOffset !== undefined && this.offset >= this.opts.failAtOffset) return this.fail(status.RESOURCE_EXHAUSTED, 'disk full');
    let digest: string | undefined;
    if (req.action === ctrContent.WriteAction.COMMIT) {
      digest = 'sha256:' + createHash('sha256').update(Buffer.concat(this.data)).digest('hex');
      if (req.expected === this.opts.existing) return this.fail(status.ALREADY_EXISTS, `content ${req.expected}: already exists`);
      if (req.expected && req.expected !== digest) return this.fail(status.FAILED_PRECONDITION, 'unexpected commit digest');
    }
    this.emit('data', { action: req.action, offset: String(this.offset), digest });
    if (req.action === ctrContent.WriteAction.COMMIT) this.emit('end');
  }
  private fail(code: status, details: string): void {
    const err = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
    this.emit('error', err);
  }
  end(): void {
    this.ended = true;
  }
  cancel(): void {
    this.cancelled = true;
    this.fail(status.CANCELLED, 'Cancelled on client');
  }
}

function fakeClient(call: FakeWriteCall, aborted: string[] = []): ContainerdClient {
  const content = {
    write: () => call,
    abort: (req: { ref: string }, _md: unknown, _opts: unknown, cb: (e: null, r: object) => void) => {
      aborted.push(req.ref);
      cb(null, {});
    },
  };
  return {
    content,
    metadata: () => new Metadata(),
    deadline: () => new Date(Date.now() + 10000),
    unary: (client: unknown, method: (...a: unknown[]) => void, req: unknown) =>
      new Promise((resolve, reject) => method.call(client, req, new Metadata(), {}, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)))),
  } as unknown as ContainerdClient;
}

describe('ContentWriter', () => {
  it('streams in ~1 MiB messages with correct offsets, a bounded window, and commits', async () => {
    const call = new FakeWriteCall();
    const w = new ContentWriter(fakeClient(call), 'ref-1', { timeoutMs: 1000 });
    await w.open();
    const input = randomBytes(10 * 1024 * 1024 + 12345);
    for (let i = 0; i < input.length; ) {
      const n = Math.min(input.length - i, 1000 + Math.floor(Math.random() * 200000));
      await w.write(input.subarray(i, i + n));
      i += n;
    }
    const digest = 'sha256:' + createHash('sha256').update(input).digest('hex');
    expect(await w.commit(input.length, digest, { a: 'b' })).toEqual({ digest, size: input.length, existed: false });
    expect(Buffer.concat(call.data).equals(input)).toBe(true);
    expect(call.requests[0]).toEqual({ action: ctrContent.WriteAction.STAT, ref: 'ref-1' });
    const commit = call.requests[call.requests.length - 1];
    expect(commit).toMatchObject({ action: ctrContent.WriteAction.COMMIT, total: String(input.length), expected: digest, labels: { a: 'b' } });
    for (const r of call.requests.slice(1, -1)) expect(r.data!.length).toBeLessThanOrEqual(1024 * 1024 + 200000);
    expect(call.maxUnanswered).toBeLessThanOrEqual(8 * 1024 * 1024 + 2 * 1024 * 1024);
    expect(call.ended).toBe(true);
  });

  it('reports an existing blob as existed', async () => {
    const data = Buffer.from('config');
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    const call = new FakeWriteCall({ existing: digest });
    const w = new ContentWriter(fakeClient(call), 'ref-2', { timeoutMs: 1000 });
    expect(await w.commitOnce(data, digest, {})).toEqual({ digest, size: data.length, existed: true });
  });

  it('surfaces a containerd failure as a taxonomy error and aborts the ingest', async () => {
    const call = new FakeWriteCall({ failAtOffset: 3 * 1024 * 1024 });
    const aborted: string[] = [];
    const w = new ContentWriter(fakeClient(call, aborted), 'ref-3', { timeoutMs: 1000 });
    await w.open();
    const err = await (async () => {
      for (let i = 0; i < 40; i++) await w.write(Buffer.alloc(1024 * 1024));
      await w.commit(40 * 1024 * 1024, 'sha256:x', {});
    })().catch((e: unknown) => e);
    expect((err as Error).message).toBe('disk full');
    await w.abort();
    expect(aborted).toEqual(['ref-3']);
  });

  it('refuses a commit whose digest does not match', async () => {
    const call = new FakeWriteCall();
    const w = new ContentWriter(fakeClient(call), 'ref-4', { timeoutMs: 1000 });
    await w.open();
    await w.write(Buffer.from('abc'));
    const err = await w.commit(3, 'sha256:' + '0'.repeat(64), {}).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(AlreadyExistsError);
    expect((err as InternalError).code).toBe('FAILED_PRECONDITION');
  });
});
