/**
 * The registry side of the pull workloads: a private docker-registry holding fresh random-data
 * images (no two share a layer, so every pull is cold for both engines), and the upstream
 * blob GETs each engine made, read from the registry's access log (one line per completed
 * response, with the bytes written, so a cut-short response counts too).
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryProcess } from '@drydock/infra';
import { buildLayeredImage, pushImage, type LayeredImage } from '@drydock/testing';

export interface BlobGet {
  repo: string;
  digest: string;
  status: number;
  bytes: number;
  userAgent: string;
  /** When the response ended, and how long it took (ms since the epoch, ms). */
  endMs: number;
  durationMs: number;
}

export interface PushedImage {
  /** host:port/bench/<name>:latest */
  ref: string;
  image: LayeredImage;
  /** Pushed Docker schema2 manifest. */
  manifestDigest: string;
  /** Config and layers: every blob a cold pull must download. */
  blobs: { digest: string; size: number }[];
}

// distribution's logrus line per response: time="..." level=info msg="response completed" k=v k="v" ...
const FIELD = /([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
const BLOB_URI = /^\/v2\/(.+?)\/blobs\/(sha256:[0-9a-f]{64})$/;

function logrusFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(FIELD)) out[m[1]] = m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2];
  return out;
}

/** Go's time.Duration text (1.5s, 8.7ms, 950µs, 2m3.1s) in ms. */
export function goDurationMs(d: string): number {
  const units: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1, 'µs': 1e-3, us: 1e-3, ns: 1e-6 };
  let ms = 0;
  for (const m of d.matchAll(/([\d.]+)(h|ms|m|s|µs|us|ns)/g)) ms += Number(m[1]) * units[m[2]];
  return ms;
}

export class PullRegistry {
  readonly registry: RegistryProcess;
  private seq = 0;

  constructor(private readonly dir: string) {
    this.registry = new RegistryProcess({ dir: join(dir, 'registry'), dieWithParent: true });
  }

  start(): Promise<void> {
    return this.registry.start();
  }

  stop(): Promise<void> {
    return this.registry.stop();
  }

  get host(): string {
    return this.registry.host;
  }

  /** A new image of random layers of the given sizes, pushed as bench/<name>:latest. */
  async fresh(name: string, layerBytes: number[], host = this.host): Promise<PushedImage> {
    const dir = join(this.dir, 'layouts', `${name}-${++this.seq}`);
    const image = await buildLayeredImage({ dir, tag: 'latest', layerBytes });
    const manifestDigest = await pushImage(image, `${this.host}/bench/${name}:latest`);
    // the registry has its own copy now
    rmSync(dir, { recursive: true, force: true });
    return {
      ref: `${host}/bench/${name}:latest`,
      image,
      manifestDigest,
      blobs: [{ digest: image.configDigest, size: image.configSize }, ...image.layers.map((l) => ({ digest: l.digest, size: l.size }))],
    };
  }

  /** Current end of the access log: blobGets(mark) reads what came after it. */
  mark(): number {
    try {
      return statSync(this.registry.logPath).size;
    } catch {
      return 0;
    }
  }

  blobGets(since: number): BlobGet[] {
    const text = readFileSync(this.registry.logPath).subarray(since).toString('utf8');
    const out: BlobGet[] = [];
    for (const line of text.split('\n')) {
      if (!line.includes('msg="response completed"') || !line.includes('http.request.method=GET')) continue;
      const f = logrusFields(line);
      const m = BLOB_URI.exec(f['http.request.uri'] ?? '');
      if (!m) continue;
      out.push({
        repo: m[1],
        digest: m[2],
        status: Number(f['http.response.status']),
        bytes: Number(f['http.response.written'] ?? 0),
        userAgent: f['http.request.useragent'] ?? '',
        endMs: Date.parse(f.time),
        durationMs: goDurationMs(f['http.response.duration'] ?? '0s'),
      });
    }
    return out;
  }
}

/** GETs and bytes per blob of `image` among `gets` (blobs never fetched count 0). */
export function getsPerBlob(image: PushedImage, gets: BlobGet[]): { digest: string; size: number; gets: number; bytes: number }[] {
  return image.blobs.map((b) => {
    const mine = gets.filter((g) => g.digest === b.digest);
    return { ...b, gets: mine.length, bytes: mine.reduce((n, g) => n + g.bytes, 0) };
  });
}

/** `total` bytes split 50/30/20 over three layers (the issue's ~100 MB, 3-layer image). */
export function threeLayers(total: number): number[] {
  return [Math.round(total * 0.5), Math.round(total * 0.3), Math.round(total * 0.2)];
}

/**
 * When the upstream was busy during a pull that started at `startMs` (epoch ms): from the
 * first blob GET's start to the last one's end, as offsets from the pull's start.
 */
export function upstreamWindow(gets: BlobGet[], startMs: number): { gets: number; bytes: number; firstStartS: number; lastEndS: number } | undefined {
  if (!gets.length) return undefined;
  const first = Math.min(...gets.map((g) => g.endMs - g.durationMs));
  const last = Math.max(...gets.map((g) => g.endMs));
  return { gets: gets.length, bytes: gets.reduce((n, g) => n + g.bytes, 0), firstStartS: (first - startMs) / 1000, lastEndS: (last - startMs) / 1000 };
}

/**
 * Milestones of a non-TTY `docker pull` from its status lines (`<id>: Download complete`, ...),
 * in seconds since the CLI started: when the last layer finished downloading and when the last
 * one was extracted ("Pull complete"). Both engines print the same statuses.
 */
export function pullMilestones(lines: { ms: number; line: string }[]): { downloadsDoneS?: number; extractedS?: number; endS?: number } {
  const last = (status: string) => {
    const hits = lines.filter((l) => l.line.endsWith(`: ${status}`));
    return hits.length ? hits[hits.length - 1].ms / 1000 : undefined;
  };
  return { downloadsDoneS: last('Download complete'), extractedS: last('Pull complete'), endS: lines.length ? lines[lines.length - 1].ms / 1000 : undefined };
}

/** CPU time (user + system, seconds) each process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(procs: { role: string; pid: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    try {
      // fields after the parenthesised command: state is field 3, utime 14, stime 15
      const rest = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out[p.role] = (out[p.role] ?? 0) + (Number(rest[11]) + Number(rest[12])) / 100;
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
