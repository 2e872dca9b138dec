import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullGc, loadLowMemory, loadMallocTrim } from './idle-collector';

// The real add-ons, built by tools/build/build.mjs as every service's bundle gets them.
describe('memory add-ons', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trim-'));
  beforeAll(() => {
    execFileSync(process.execPath, [join(__dirname, '../../../tools/build/build.mjs'), '--out', dir, 'registry-proxy'], { stdio: 'pipe' });
  }, 120000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is absent-tolerant', () => {
    expect(loadMallocTrim(join(dir, 'nope.node'))).toBeUndefined();
  });

  it('gives back the freed holes of the malloc heap that a collection alone leaves resident', () => {
    const trim = loadMallocTrim(join(dir, 'native/malloc-trim.node'))!;
    expect(trim).toBeDefined();
    const gc = fullGc();
    const rss = () => process.memoryUsage.rss() / 2 ** 20;
    // 64 KB backing stores (below the mmap threshold: from the heap), every 16th kept alive: holes between them
    let bufs: Buffer[] = Array.from({ length: 3000 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
    const kept = bufs.filter((_, i) => i % 16 === 0);
    bufs = [];
    gc();
    gc();
    const collected = rss();
    trim();
    const trimmed = rss();
    expect(kept.length).toBe(188);
    expect(collected - trimmed).toBeGreaterThan(50);
  });

  it('v8-idle: gives back the old-generation pages a full collection keeps after a burst', () => {
    expect(loadLowMemory(join(dir, 'nope.node'))).toBeUndefined();
    const lowMemory = loadLowMemory(join(dir, 'native/v8-idle.node'))!;
    expect(lowMemory).toBeDefined();
    const gc = fullGc();
    const committed = () => process.memoryUsage().heapTotal / 2 ** 20;
    // many small objects, every 8th kept: old-space pages left sparse, which a plain full collection keeps
    const burst = () => {
      let objs: object[] = Array.from({ length: 400000 }, (_, i) => ({ i, s: `x${i}` }));
      const kept = objs.filter((_, i) => i % 8 === 0);
      objs = [];
      return kept;
    };
    const kept = burst();
    gc();
    gc();
    const afterGc = committed();
    lowMemory();
    const afterLow = committed();
    expect(kept.length).toBe(50000);
    expect(afterGc - afterLow).toBeGreaterThan(5);
  });
});
