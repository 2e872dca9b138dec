import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/** Test images written by hand and uploaded to a distribution registry over its HTTP API. */

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface TestLayer {
  gz: Buffer;
  digest: string;
  diffId: string;
}

export interface TestImage {
  layers: TestLayer[];
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
}

/** A tar of regular files (deterministic: fixed mtime). */
export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => p.entry({ name, mode: 0o644, mtime: new Date(0) }, content, (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export function layerOf(tar: Buffer): TestLayer {
  const gz = gzipSync(tar);
  return { gz, digest: sha(gz), diffId: sha(tar) };
}

/** A Docker schema2 (or OCI) image of gzipped layers. */
export function imageOf(layers: TestLayer[], opts: { arch?: string; variant?: string; cmd?: string[]; oci?: boolean; label?: string } = {}): TestImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? 'amd64',
      ...(opts.variant ? { variant: opts.variant } : {}),
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: opts.cmd ?? ['/bin/sh'], Env: ['PATH=/bin'], Labels: opts.label ? { fixture: opts.label } : undefined },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'fixture' })),
    }),
  );
  const mediaType = opts.oci ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType,
        config: { mediaType: opts.oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
        layers: layers.map((l) => ({ mediaType: opts.oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.gz.length, digest: l.digest })),
      },
      null,
      3,
    ),
  );
  return { layers, config, configDigest: sha(config), manifest, manifestDigest: sha(manifest), mediaType };
}

/** A Docker manifest list over `images` with their platforms. */
export function indexOf(entries: { image: TestImage; arch: string; variant?: string }[]): { body: Buffer; digest: string; mediaType: string } {
  const mediaType = 'application/vnd.docker.distribution.manifest.list.v2+json';
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({
        mediaType: e.image.mediaType,
        size: e.image.manifest.length,
        digest: e.image.manifestDigest,
        platform: { architecture: e.arch, os: 'linux', ...(e.variant ? { variant: e.variant } : {}) },
      })),
    }),
  );
  return { body, digest: sha(body), mediaType };
}

export function http(url: string, method: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...(body ? { 'Content-Length': String(body.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c as Buffer));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Uploads blobs (monolithic POST) and puts the manifest under `tag` (or its digest). */
export async function uploadImage(registryUrl: string, repo: string, tag: string | undefined, img: TestImage, auth?: string): Promise<void> {
  const h: Record<string, string> = auth ? { Authorization: `Basic ${auth}` } : {};
  for (const [digest, bytes] of [[img.configDigest, img.config] as const, ...img.layers.map((l) => [l.digest, l.gz] as const)]) {
    // docker-registry 2.8 has no monolithic POST: open a session, PUT the bytes to it.
    const start = await http(`${registryUrl}/v2/${repo}/blobs/uploads/`, 'POST', Buffer.alloc(0), h);
    if (start.status !== 202) throw new Error(`upload start ${repo}: ${start.status} ${start.body}`);
    const loc = new URL(String(start.headers.location), registryUrl);
    loc.searchParams.set('digest', digest);
    const r = await http(loc.toString(), 'PUT', bytes, { 'Content-Type': 'application/octet-stream', ...h });
    if (r.status !== 201) throw new Error(`blob upload ${digest}: ${r.status} ${r.body}`);
  }
  await putManifest(registryUrl, repo, tag ?? img.manifestDigest, img.manifest, img.mediaType, auth);
}

export async function putManifest(registryUrl: string, repo: string, ref: string, body: Buffer, mediaType: string, auth?: string): Promise<void> {
  const r = await http(`${registryUrl}/v2/${repo}/manifests/${ref}`, 'PUT', body, { 'Content-Type': mediaType, ...(auth ? { Authorization: `Basic ${auth}` } : {}) });
  if (r.status !== 201) throw new Error(`manifest put ${repo}:${ref}: ${r.status} ${r.body}`);
}

/**
 * A forwarding HTTP server in front of `target` that, for GETs of blob
 * `digest`, sends the headers and the first `bytes` bytes and then stalls
 * (until close()): a pull is reliably caught mid-download.
 */
export async function startStallingForwarder(
  target: string,
  digest: string,
  bytes: number,
): Promise<{ url: string; stalled: Promise<void>; release(): void; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  let onStall!: () => void;
  const stalled = new Promise<void>((r) => (onStall = r));
  const open = new Set<import('node:http').ServerResponse>();
  let stalling = true;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c as Buffer));
    req.on('end', () => {
      const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (ures) => {
        if (stalling && req.method === 'GET' && req.url?.includes(`/blobs/${digest}`)) {
          res.writeHead(ures.statusCode ?? 500, ures.headers);
          const head: Buffer[] = [];
          let n = 0;
          ures.on('data', (c: Buffer) => {
            if (n >= bytes) return;
            head.push(c.subarray(0, bytes - n));
            n += Math.min(c.length, bytes - n);
            if (n >= bytes) {
              res.write(Buffer.concat(head));
              open.add(res);
              onStall();
            }
          });
          return;
        }
        res.writeHead(ures.statusCode ?? 500, ures.headers);
        ures.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stalled,
    /** Later requests pass through; the stalled responses are cut. */
    release: () => {
      stalling = false;
      for (const r of open) r.destroy();
      open.clear();
    },
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
