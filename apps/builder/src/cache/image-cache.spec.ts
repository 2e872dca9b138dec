import type { ImageConfig, ImageRunConfig } from '@drydock/oci-spec';
import type { BuildBackend } from '../backend/ports';
import { OrderedOutput } from '../output/ordered-output';
import { ImageProber } from './image-cache';

const cfg = (step: string): ImageRunConfig => ({ Cmd: ['/bin/sh', '-c', '#(nop) ', step] });

/** A node's images by parent, answering ListChildImages as the supervisor does (a generation at a time). */
function fakeBackend(images: { id: string; parent: string; step: string }[]) {
  const calls: [string, number][] = [];
  const backend = {
    childImages: async (parentId: string, depth = 1) => {
      calls.push([parentId, depth]);
      const out: { id: string; config: ImageConfig; parent: string }[] = [];
      let level = [parentId];
      for (let d = 0; d < depth && level.length; d++) {
        const next = images.filter((i) => level.includes(i.parent));
        out.push(...next.map((i) => ({ id: i.id, parent: i.parent, config: { container_config: cfg(i.step), created: '2026-01-01T00:00:00Z' } as ImageConfig })));
        level = next.map((i) => i.id);
      }
      return out;
    },
  } as unknown as BuildBackend;
  return { backend, calls };
}

describe('ImageProber', () => {
  const chain = [
    { id: 'a', parent: 'base', step: 'ENV a=1' },
    { id: 'a2', parent: 'base', step: 'ENV a=2' },
    { id: 'b', parent: 'a', step: 'LABEL b=1' },
    { id: 'c', parent: 'b', step: 'CMD c' },
  ];

  it('looks a stage up in one listing of the descendants, as deep as its steps', async () => {
    const { backend, calls } = fakeBackend(chain);
    const p = new ImageProber(backend, [], false);
    p.reset(3);
    expect(await p.probe('base', cfg('ENV a=2'))).toBe('a2');
    expect(await p.probe('a2', cfg('LABEL b=1'))).toBeUndefined();
    p.reset(3);
    expect(await p.probe('base', cfg('ENV a=1'))).toBe('a');
    expect(await p.probe('a', cfg('LABEL b=1'))).toBe('b');
    expect(await p.probe('b', cfg('CMD c'))).toBe('c');
    expect(calls).toEqual([['base', 3], ['base', 3]]);
  });

  it('asks for a parent below the listing on its own; the first miss busts the rest of the stage', async () => {
    const { backend, calls } = fakeBackend(chain);
    const p = new ImageProber(backend, [], false);
    p.reset(1);
    expect(await p.probe('base', cfg('ENV a=1'))).toBe('a');
    expect(await p.probe('a', cfg('LABEL b=1'))).toBe('b');
    expect(await p.probe('b', cfg('CMD other'))).toBeUndefined();
    expect(await p.probe('b', cfg('CMD c'))).toBeUndefined();
    expect(calls).toEqual([['base', 1], ['a', 1], ['b', 1]]);
  });
});

describe('OrderedOutput writes', () => {
  it('hands entries over without waiting for each write, in order; a write error comes out at the flush', async () => {
    const started: string[] = [];
    const release: (() => void)[] = [];
    const out = new OrderedOutput((e) => {
      started.push((e as unknown as { msg: { stream: string } }).msg.stream);
      return new Promise<void>((r) => release.push(r));
    });
    const s = out.stepOutput(0);
    await s.stdout('1');
    await s.stdout('2');
    expect(started).toEqual(['1', '2']);
    let flushed = false;
    const f = out.flush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    release.forEach((r) => r());
    await f;
    const failing = new OrderedOutput(async () => {
      throw new Error('redis gone');
    });
    await failing.stepOutput(0).stdout('x');
    await expect(failing.flush()).rejects.toThrow('redis gone');
  });
});
