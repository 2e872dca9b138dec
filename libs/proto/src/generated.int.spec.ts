import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '../../..');
const committed = join(root, 'libs/proto/src/gen');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** The committed ts-proto output must be exactly what the generator produces from the .proto files. */
describe('generated protobuf code', () => {
  it('regenerating changes nothing', () => {
    const out = mkdtempSync(join(tmpdir(), 'dd-protogen-'));
    try {
      execFileSync(process.execPath, [join(root, 'tools/proto/generate.mjs'), out], { stdio: 'pipe' });
      const want = files(out).map((f) => relative(out, f)).sort();
      const have = files(committed).map((f) => relative(committed, f)).sort();
      expect(have).toEqual(want);
      for (const f of want) {
        expect({ file: f, text: readFileSync(join(committed, f), 'utf8') }).toEqual({ file: f, text: readFileSync(join(out, f), 'utf8') });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
