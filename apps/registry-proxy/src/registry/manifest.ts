import { parseDigest } from './digest';
import { RegistryError } from './errors';

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const IMAGE_TYPES: string[] = [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest];
const INDEX_TYPES: string[] = [MEDIA_TYPES.dockerList, MEDIA_TYPES.ociIndex];
// Layers a registry never holds: clients fetch them from their `urls`.
const FOREIGN_LAYERS = [
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
];

export interface ParsedManifest {
  mediaType: string;
  /** Blobs (config, layers) that must be in the repository. */
  blobs: string[];
  /** Child manifests (of an index / manifest list) that must be in the repository. */
  manifests: string[];
}

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
}

function descriptorDigest(d: unknown, where: string): string {
  const desc = d as Descriptor;
  if (!desc || typeof desc !== 'object' || typeof desc.digest !== 'string' || typeof desc.size !== 'number') {
    throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${where} is not a descriptor`);
  }
  try {
    parseDigest(desc.digest);
  } catch (err) {
    throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${where} has an invalid digest`, undefined, { cause: err });
  }
  return desc.digest;
}

/**
 * Checks a pushed manifest's shape and lists what it references. The media type is
 * the document's own `mediaType`, else the request's Content-Type, else inferred
 * (OCI makes the field optional).
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not JSON', undefined, { cause: err });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: not a JSON object');
  const header = contentType?.split(';')[0].trim();
  const mediaType =
    typeof doc.mediaType === 'string'
      ? doc.mediaType
      : header && [...IMAGE_TYPES, ...INDEX_TYPES].includes(header)
        ? header
        : Array.isArray(doc.manifests)
          ? MEDIA_TYPES.ociIndex
          : MEDIA_TYPES.ociManifest;
  if (doc.schemaVersion !== 2) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: schemaVersion must be 2 (schema1 is not supported)');
  if (IMAGE_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.layers)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: layers must be an array');
    const blobs = [descriptorDigest(doc.config, 'config')];
    doc.layers.forEach((l, i) => {
      const digest = descriptorDigest(l, `layers[${i}]`);
      const d = l as Descriptor;
      if (!(typeof d.mediaType === 'string' && FOREIGN_LAYERS.includes(d.mediaType))) blobs.push(digest);
    });
    return { mediaType, blobs, manifests: [] };
  }
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid: manifests must be an array');
    return { mediaType, blobs: [], manifests: doc.manifests.map((m, i) => descriptorDigest(m, `manifests[${i}]`)) };
  }
  throw new RegistryError('MANIFEST_INVALID', `manifest invalid: unsupported media type ${mediaType}`);
}
