import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The test volume plugin's config.json (lower-case keys, as vieux/sshfs writes them). */
export function volumePluginConfig(socket = 'tp.sock'): Record<string, unknown> {
  return {
    description: 'drydock test volume plugin',
    documentation: 'libs/testing/fixtures/volume-plugin.c',
    entrypoint: ['/volume-plugin', '--socket', `/run/docker/plugins/${socket}`, '--dir', '/data'],
    interface: { types: ['docker.volumedriver/1.0'], socket },
    network: { type: '' },
    env: [{ name: 'DEBUG', settable: ['value'], value: '0' }],
    args: { name: 'args', settable: ['value'], value: [] },
  };
}

/** A plugin image: the config blob, its rootfs layers (the plugin first), the schema2 manifest. */
export interface PluginImage {
  config: Buffer;
  /** The first layer (the plugin binary and /data). */
  layer: Buffer;
  /** Every layer in order, `layer` first. */
  layers: Buffer[];
  manifest: Buffer;
}

/** One tar entry of an upper layer: a directory (name ending in '/') or a file with `body`, e.g. a whiteout `.wh.NAME`. */
export interface LayerEntry {
  name: string;
  body?: string;
}

async function tarOf(entries: { h: Parameters<ReturnType<typeof pack>['entry']>[0]; body?: Buffer }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) await new Promise<void>((res, rej) => p.entry(e.h, e.body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Packs the static plugin binary (plus /data) as a plugin image with `config` as its config.json;
 * `upperLayers` follow it, each a list of entries (how a test builds whiteouts over earlier layers).
 */
export async function buildVolumePluginImage(binary: string, config: Record<string, unknown> = volumePluginConfig(), upperLayers: LayerEntry[][] = []): Promise<PluginImage> {
  const tars = [
    await tarOf([
      { h: { name: 'data/', type: 'directory', mode: 0o755, mtime: new Date(0) } },
      { h: { name: 'volume-plugin', mode: 0o755, mtime: new Date(0) }, body: readFileSync(binary) },
    ]),
  ];
  for (const l of upperLayers) {
    tars.push(await tarOf(l.map((e) => (e.name.endsWith('/') ? { h: { name: e.name, type: 'directory', mode: 0o755, mtime: new Date(0) } } : { h: { name: e.name, mode: 0o644, mtime: new Date(0) }, body: Buffer.from(e.body ?? '') }))));
  }
  const layers = tars.map((t) => gzipSync(t));
  const cfg = Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: tars.map(sha) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.plugin.v1+json', size: cfg.length, digest: sha(cfg) },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.length, digest: sha(l) })),
    }),
  );
  return { config: cfg, layer: layers[0], layers, manifest };
}

function http(url: string, method: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; location?: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'Content-Length': String(body.length), ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Pushes a plugin image to a distribution registry (`http://127.0.0.1:PORT`) as `repo:tag`. */
export async function pushPluginImage(registryUrl: string, repo: string, tag: string, img: PluginImage): Promise<void> {
  for (const blob of [img.config, ...img.layers]) {
    const start = await http(`${registryUrl}/v2/${repo}/blobs/uploads/`, 'POST', Buffer.alloc(0));
    if (start.status !== 202) throw new Error(`upload start ${repo}: ${start.status} ${start.text}`);
    const loc = new URL(String(start.location), registryUrl);
    loc.searchParams.set('digest', sha(blob));
    const r = await http(loc.toString(), 'PUT', blob, { 'Content-Type': 'application/octet-stream' });
    if (r.status !== 201) throw new Error(`blob upload: ${r.status} ${r.text}`);
  }
  const m = await http(`${registryUrl}/v2/${repo}/manifests/${tag}`, 'PUT', img.manifest, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
  if (m.status !== 201) throw new Error(`manifest put ${repo}:${tag}: ${m.status} ${m.text}`);
}
