import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { requireCommand } from '@drydock/infra';
import { buildBusyboxRootfsTar } from './busybox-rootfs';
import { hashing } from './hashing';

export interface LayeredImageOptions {
  /** The OCI image layout is written here (created when missing). */
  dir: string;
  /** Tag in the layout's index.json (`oci:dir:tag` for skopeo). */
  tag: string;
  /** Bytes of random data per layer: layer i holds one file /layer-i.bin of that size. */
  layerBytes: number[];
  /** The first layer also carries the busybox rootfs, so the image runs (`sha256sum /layer-1.bin`). */
  busybox?: boolean;
}

export interface ImageLayer {
  /** Digest and size of the gzipped blob (what registries store and clients download). */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** The file it adds, e.g. /layer-0.bin, and the sha256 (hex) of its content. */
  file: string;
  fileSha256: string;
  fileBytes: number;
}

export interface LayeredImage {
  dir: string;
  tag: string;
  /** Of the OCI manifest in the layout; pushImage reports the digest of what it pushed. */
  manifestDigest: string;
  configDigest: string;
  configSize: number;
  layers: ImageLayer[];
  /** Sum of the compressed layer sizes: the bytes a cold pull downloads (config and manifest aside). */
  downloadBytes: number;
}

const MTIME = new Date('2024-01-01T00:00:00Z');
const CHUNK = 1024 * 1024;
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * One gzipped layer: optionally the busybox rootfs entries, then `name` with `bytes` of random
 * data (incompressible, and different on every call: no two images share a layer).
 */
async function writeLayer(blobsDir: string, index: number, bytes: number, busyboxTar?: string): Promise<ImageLayer> {
  const tmp = join(blobsDir, `.layer-${index}-${process.pid}.tmp`);
  const p = pack();
  const diff = hashing();
  const blob = hashing();
  // Level 1: random data does not compress at any level; it only costs time.
  const written = pipeline(p as unknown as NodeJS.ReadableStream, diff.tap, createGzip({ level: 1 }), blob.tap, createWriteStream(tmp));
  const entry = (header: Parameters<typeof p.entry>[0], body?: Buffer) =>
    new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if (body) p.entry(header, body, cb);
      else p.entry(header, cb);
    });
  if (busyboxTar) {
    // Re-emit the busybox rootfs entries so they share this layer's tar stream.
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => void entry(header, Buffer.concat(chunks)).then(() => next(), next));
    });
    const done = new Promise<void>((res, rej) => {
      ex.on('finish', () => res());
      ex.on('error', rej);
    });
    ex.end(await readFile(busyboxTar));
    await done;
  }
  const file = `/layer-${index}.bin`;
  const fileHash = createHash('sha256');
  await new Promise<void>((res, rej) => {
    const s = p.entry({ name: file.slice(1), type: 'file', mode: 0o644, size: bytes, mtime: MTIME, uid: 0, gid: 0 }, (err) => (err ? rej(err) : res()));
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const chunk = randomBytes(Math.min(CHUNK, left));
        left -= chunk.length;
        fileHash.update(chunk);
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
      s.end(undefined);
    };
    pump();
  });
  p.finalize();
  await written;
  const digest = blob.digest();
  await rename(tmp, join(blobsDir, digest.slice(7)));
  return { digest, size: blob.size(), diffId: diff.digest(), file, fileSha256: fileHash.digest('hex'), fileBytes: bytes };
}

/**
 * Writes an OCI image layout holding one image whose layers are random data of the given
 * sizes, with an OCI manifest and a config whose diff_ids match (skopeo's oci: transport reads
 * OCI manifests only; pushImage converts to Docker schema2). Digests differ on every call.
 */
export async function buildLayeredImage(opts: LayeredImageOptions): Promise<LayeredImage> {
  const blobs = join(opts.dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  let busyboxTar: string | undefined;
  if (opts.busybox) {
    busyboxTar = join(opts.dir, '.busybox.tar');
    await buildBusyboxRootfsTar(busyboxTar);
  }
  const layers: ImageLayer[] = [];
  for (let i = 0; i < opts.layerBytes.length; i++) layers.push(await writeLayer(blobs, i, opts.layerBytes[i], i === 0 ? busyboxTar : undefined));
  if (busyboxTar) await rm(busyboxTar, { force: true });

  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: MTIME.toISOString(),
      config: opts.busybox ? { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] } : {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l) => ({ created: MTIME.toISOString(), created_by: `random data ${l.file}` })),
    }),
  );
  const configDigest = sha(config);
  await writeFile(join(blobs, configDigest.slice(7)), config);
  const types = { manifest: 'application/vnd.oci.image.manifest.v1+json', config: 'application/vnd.oci.image.config.v1+json', layer: 'application/vnd.oci.image.layer.v1.tar+gzip' };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: types.layer, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = sha(manifest);
  await writeFile(join(blobs, manifestDigest.slice(7)), manifest);
  await writeFile(join(opts.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(opts.dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: types.manifest, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': opts.tag } }],
    }),
  );
  return { dir: opts.dir, tag: opts.tag, manifestDigest, configDigest, configSize: config.length, layers, downloadBytes: layers.reduce((n, l) => n + l.size, 0) };
}

export interface PushOptions {
  /** Docker schema2 (what `docker push` writes; default) or the layout's OCI manifest as is. */
  format?: 'docker' | 'oci';
  creds?: { username: string; password: string };
}

/**
 * Copies the layout's image to `ref` (`127.0.0.1:PORT/name:tag`) over plain HTTP with skopeo
 * and returns the pushed manifest's digest. Blobs keep their digests either way: the layers
 * are gzipped already and the config is copied byte for byte.
 */
export async function pushImage(image: Pick<LayeredImage, 'dir' | 'tag'>, ref: string, opts: PushOptions = {}): Promise<string> {
  const skopeo = requireCommand('skopeo', 'skopeo');
  const digestFile = join(image.dir, `.pushed-${process.pid}-${Date.now()}`);
  const args = ['copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
  args.push(...(opts.format === 'oci' ? ['--preserve-digests'] : ['--format', 'v2s2']));
  if (opts.creds) args.push('--dest-creds', `${opts.creds.username}:${opts.creds.password}`);
  args.push(`oci:${image.dir}:${image.tag}`, `docker://${ref}`);
  try {
    await promisify(execFile)(skopeo, args, { maxBuffer: 1024 * 1024 });
    return (await readFile(digestFile, 'utf8')).trim();
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`skopeo copy to ${ref} failed: ${(e.stderr || e.message).trim()}`);
  } finally {
    await rm(digestFile, { force: true });
  }
}
