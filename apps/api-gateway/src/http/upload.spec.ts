import { EventEmitter } from 'node:events';
import { pumpBody } from './upload';

class Sink extends EventEmitter {
  sent: Buffer[] = [];
  write(m: { chunk: Buffer }): boolean {
    this.sent.push(m.chunk);
    return true;
  }
}

async function* body(parts: string[], read: string[], onRead?: (i: number) => void): AsyncGenerator<Buffer> {
  for (const [i, p] of parts.entries()) {
    read.push(p);
    onRead?.(i);
    yield Buffer.from(p);
    await new Promise((r) => setImmediate(r));
  }
}

describe('pumpBody', () => {
  it('sends every chunk while the call is fine', async () => {
    const sink = new Sink();
    const read: string[] = [];
    await pumpBody(body(['a', 'b', 'c'], read), sink, new Promise(() => undefined), 'stop');
    expect(sink.sent.map(String)).toEqual(['a', 'b', 'c']);
  });

  it("after a failure: 'stop' leaves the body unread, 'drain' reads it to the end; both send nothing more and throw", async () => {
    for (const mode of ['stop', 'drain'] as const) {
      const sink = new Sink();
      const read: string[] = [];
      let fail!: (e: Error) => void;
      const done = new Promise((_, rej) => (fail = rej));
      const run = pumpBody(body(['a', 'b', 'c', 'd'], read, (i) => i === 1 && fail(new Error('refused'))), sink, done, mode);
      await expect(run).rejects.toThrow('refused');
      expect(sink.sent.length).toBeLessThanOrEqual(2);
      if (mode === 'stop') expect(read.length).toBeLessThan(4);
      else expect(read).toEqual(['a', 'b', 'c', 'd']);
    }
  });
});
