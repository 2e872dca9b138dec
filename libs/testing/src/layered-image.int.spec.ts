// The generated test image, pushed with skopeo to a real docker-registry: the registry holds
// exactly the blobs we wrote (digests preserved), and each layer's tar holds the random file
// whose checksum we report.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { buildLayeredImage, pushImage } from './layered-image';
import { startTestInfra, type TestInfra } from './test-infra';

async function tarEntries(tar: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => {
      out.set(h.name, Buffer.concat(chunks));
      next();
    });
  });
  const done = new Promise<void>((res, rej) => ex.on('finish', () => res()).on('error', rej));
  ex.end(tar);
  await done;
  return out;
}

describe('buildLayeredImage + pushImage', () => {
  let infra: TestInfra;
  beforeAll(async () => {
    infra = await startTestInfra({ registry: true, name: 'layered' });
  });
  afterAll(() => infra?.stop());

  it.each(['docker', 'oci'] as const)('pushes a %s image whose blobs, diff_ids and file checksums are what it reports', async (format) => {
    const image = await buildLayeredImage({ dir: join(infra.dir, `img-${format}`), tag: 'v1', layerBytes: [70000, 1000], busybox: true });
    const pushed = await pushImage(image, `${infra.registry!.host}/t/${format}:v1`, { format });
    if (format === 'oci') expect(pushed).toBe(image.manifestDigest);
    const base = `${infra.registry!.url}/v2/t/${format}`;

    const res = await fetch(`${base}/manifests/v1`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(pushed);
    const manifest = (await res.json()) as { mediaType: string; config: { digest: string }; layers: { digest: string; size: number }[] };
    expect(manifest.mediaType).toBe(format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest.config.digest).toBe(image.configDigest);
    expect(manifest.layers).toEqual(image.layers.map((l) => ({ mediaType: expect.any(String), digest: l.digest, size: l.size })));

    const config = (await (await fetch(`${base}/blobs/${image.configDigest}`)).json()) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));

    for (const layer of image.layers) {
      const blob = Buffer.from(await (await fetch(`${base}/blobs/${layer.digest}`)).arrayBuffer());
      expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(layer.digest);
      const tar = gunzipSync(blob);
      expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(layer.diffId);
      const files = await tarEntries(tar);
      const data = files.get(layer.file.slice(1))!;
      expect(data.length).toBe(layer.fileBytes);
      expect(createHash('sha256').update(data).digest('hex')).toBe(layer.fileSha256);
    }
    // busybox rides in the first layer only
    expect((await tarEntries(gunzipSync(await readFile(join(image.dir, 'blobs/sha256', image.layers[0].digest.slice(7)))))).has('bin/busybox')).toBe(true);
    expect((await tarEntries(gunzipSync(await readFile(join(image.dir, 'blobs/sha256', image.layers[1].digest.slice(7)))))).has('bin/busybox')).toBe(false);
  });

  it('never repeats content: two images of the same shape share no layer', async () => {
    const a = await buildLayeredImage({ dir: join(infra.dir, 'a'), tag: 'x', layerBytes: [100] });
    const b = await buildLayeredImage({ dir: join(infra.dir, 'b'), tag: 'x', layerBytes: [100] });
    expect(a.layers[0].digest).not.toBe(b.layers[0].digest);
  });
});
