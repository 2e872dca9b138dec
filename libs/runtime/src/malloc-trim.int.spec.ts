import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullGc, loadMallocTrim } from './idle-collector';

// The real add-on, built by tools/build/build.mjs as every service's bundle gets it.
describe('malloc-trim add-on', () => {
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
});
