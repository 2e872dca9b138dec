import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { buildBusyboxRootfsTar } from '@drydock/testing';

export interface OciLayout {
  dir: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  layerSize: number;
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI image layout (one gzipped busybox layer) tagged `tag`, written by hand. */
export async function writeBusyboxOciLayout(dir: string, tag: string): Promise<OciLayout> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const layer = await buildBusyboxRootfsTar(join(dir, 'layer.tar'));
  // Gzipped: skopeo would compress an uncompressed layer on push, changing the digests.
  const gz = gzipSync(await readFile(layer.path));
  const layerDigest = sha(gz);
  await writeFile(join(blobs, layerDigest.slice(7)), gz);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [layer.diffId] } }),
  );
  const configDigest = sha(config);
  await writeFile(join(blobs, configDigest.slice(7)), config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: gz.length }],
    }),
  );
  const manifestDigest = sha(manifest);
  await writeFile(join(blobs, manifestDigest.slice(7)), manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { dir, manifestDigest, configDigest, layerDigest, layerSize: gz.length };
}
