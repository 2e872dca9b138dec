import { spawn } from 'node:child_process';
import { InvalidArgumentError } from '@drydock/errors';
import { decompress, detectCompression, MAGIC_BYTES, peek, type Compression } from '../compression';

/** External decompressors for what Node's zlib lacks (moby likewise shells out to unpigz when present). */
const TOOLS: Partial<Record<Compression, string>> = { xz: 'xz', bzip2: 'bzip2' };

/**
 * The uncompressed bytes of a `docker load` upload: plain and gzip through
 * compression.ts; xz and bzip2, which `docker load` documents too, through the
 * system's `xz -dc` / `bzip2 -dc`. zstd is refused, as Docker 20.10 does.
 */
export async function decompressArchive(src: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const { head, chunks } = await peek(src, MAGIC_BYTES);
  const tool = TOOLS[detectCompression(head)];
  if (!tool) return (await decompress(chunks)).chunks;
  return external(tool, chunks);
}

/** Pipes `src` through `<tool> -dc`; its failure (bad data, missing tool) is the upload's error. */
async function* external(tool: string, src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-1000)));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code));
  });
  let feedError: unknown;
  const feeding = (async () => {
    try {
      for await (const c of src) {
        if (child.stdin.destroyed) break;
        if (!child.stdin.write(c)) await new Promise((r) => {
          child.stdin.once('drain', r);
          child.stdin.once('close', r);
        });
      }
      child.stdin.end();
    } catch (err) {
      feedError = err;
      child.kill('SIGKILL');
    }
  })();
  child.stdin.on('error', () => undefined);
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const code = await exited;
    await feeding;
    if (feedError) throw feedError;
    if (code !== 0) {
      if (code === -1) throw new InvalidArgumentError(`unsupported compression format: ${tool} is not installed on this node`);
      // Go's readers report damaged compressed data as a truncated stream
      throw new InvalidArgumentError(`Error processing tar file(exit status 1): unexpected EOF`, { cause: new Error(stderr.trim()) });
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
