import { extract, type Extract, type Header } from 'tar-stream';
import { InvalidArgumentError } from '@drydock/errors';

/**
 * Resolves a tar entry path the way Go's filepath.Clean + Join(root, p) does in
 * moby's archive.UnpackLayer: `.` and empty components vanish, `..` pops, and
 * an absolute path is re-rooted (so "/../x" is "/x", as Docker strips the
 * leading "/"). Returns the components, or undefined if a relative path climbs
 * above the root.
 */
export function resolveInRoot(path: string, base: string[] = []): string[] | undefined {
  const out = path.startsWith('/') ? [] : [...base];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) {
        if (path.startsWith('/')) continue;
        return undefined;
      }
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/** Summary of a validated tar. */
export interface TarStats {
  entries: number;
  /** Sum of the sizes of regular files: what Docker reports as an imported layer's size. */
  fileBytes: number;
}

/**
 * Returns why an entry would escape the root filesystem, or undefined if it is
 * safe. Same rules as moby's createTarFile (Docker's `import`/`load`): the name
 * must stay under the root, a hardlink target is resolved from the root, a
 * relative symlink target from the link's directory; absolute symlink targets
 * are always fine (they resolve inside the container's root at run time).
 */
export function checkTarEntry(header: { name: string; type?: Header['type'] | null; linkname?: string | null }): string | undefined {
  const name = header.name;
  if (name.includes('\0')) return `invalid tar: entry ${JSON.stringify(name)} has a NUL byte in its name`;
  const resolved = resolveInRoot(name);
  if (!resolved) return `invalid tar: entry ${JSON.stringify(name)} escapes the root`;
  const link = header.linkname ?? '';
  if (header.type === 'link') {
    if (!resolveInRoot(link)) return `invalid tar: hardlink ${JSON.stringify(name)} -> ${JSON.stringify(link)} escapes the root`;
  } else if (header.type === 'symlink') {
    if (!link.startsWith('/') && !resolveInRoot(link, resolved.slice(0, -1))) {
      return `invalid tar: symlink ${JSON.stringify(name)} -> ${JSON.stringify(link)} escapes the root`;
    }
  }
  return undefined;
}

/** tar-stream's words for input that is not a tar, in the words Docker users know (Go's archive/tar). */
function describeParserError(err: Error): InvalidArgumentError {
  if (err instanceof InvalidArgumentError) return err;
  if (/invalid tar header|invalid header|header exceeds/i.test(err.message)) {
    return new InvalidArgumentError('invalid tar header: the data is not a tar archive (or a gzip-compressed one) or it is corrupted', { cause: err });
  }
  if (/unexpected end of data/i.test(err.message)) {
    return new InvalidArgumentError('invalid tar: unexpected EOF (the archive is truncated)', { cause: err });
  }
  return new InvalidArgumentError(`invalid tar: ${err.message}`, { cause: err });
}

/**
 * Push-based tar checker: feed it the uncompressed bytes with `write` (waits
 * while the parser is busy, throws InvalidArgumentError on the first bad entry)
 * and `end` (throws if the archive is truncated). Only headers are inspected;
 * file contents are skipped without being kept.
 */
export class TarValidator {
  private readonly parser: Extract;
  private failure?: InvalidArgumentError;
  private readonly stats: TarStats = { entries: 0, fileBytes: 0 };

  constructor() {
    // Go's archive/tar reads pre-POSIX (v7) headers too; the checksum still guards against garbage.
    this.parser = extract({ allowUnknownFormat: true } as Parameters<typeof extract>[0]);
    this.parser.on('entry', (header, stream, next) => {
      // A failed parse destroys the entry stream with the error; the parser reports it once.
      stream.on('error', () => undefined);
      const problem = checkTarEntry(header);
      if (problem) {
        this.fail(new InvalidArgumentError(problem));
        next(this.failure);
        return;
      }
      this.stats.entries += 1;
      if (header.type === 'file' || header.type === 'contiguous-file' || header.type == null) this.stats.fileBytes += header.size ?? 0;
      stream.on('end', () => next());
      stream.resume();
    });
    this.parser.on('error', (err: Error) => this.fail(describeParserError(err)));
  }

  private fail(err: InvalidArgumentError): void {
    this.failure ??= err;
  }

  /** Feeds the next chunk of the uncompressed archive. */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.parser.write(chunk)) await this.settle('drain');
    if (this.failure) throw this.failure;
  }

  /** Marks the end of the input; resolves with the stats once every header was checked. */
  async end(): Promise<TarStats> {
    if (this.failure) throw this.failure;
    const done = this.settle('finish');
    this.parser.end(undefined);
    await done;
    if (this.failure) throw this.failure;
    return { ...this.stats };
  }

  /** Stops parsing (the import failed elsewhere). */
  destroy(): void {
    this.parser.destroy();
  }

  private settle(event: 'drain' | 'finish'): Promise<void> {
    return new Promise((resolve) => {
      if (this.failure || (this.parser as unknown as { destroying: boolean }).destroying) return resolve();
      const done = () => {
        this.parser.off(event, done);
        this.parser.off('error', done);
        this.parser.off('close', done);
        resolve();
      };
      this.parser.on(event, done);
      this.parser.on('error', done);
      this.parser.on('close', done);
    });
  }
}
