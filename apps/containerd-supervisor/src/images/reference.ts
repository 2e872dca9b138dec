import {
  familiarString,
  isDigest as isAnyDigest,
  isImageIdentifier,
  parseReference,
  parseStrict,
  shortId,
  withTag,
  DEFAULT_TAG,
  type ImageReference,
} from '@drydock/oci-spec';

/**
 * The reference helpers the image store needs, on top of @drydock/oci-spec's
 * implementation of Docker's reference grammar.
 */
export { familiarString, parseReference as parseNormalizedNamed, shortId, withTag, type ImageReference };

/** TagNameOnly: adds `:latest` to a reference with neither tag nor digest. */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag === undefined && ref.digest === undefined ? withTag(ref, DEFAULT_TAG) : ref;
}

/** The full normalized string containerd stores: `docker.io/library/busybox:latest`. */
export function referenceString(ref: ImageReference): string {
  return ref.toString();
}

/** `docker.io/library/busybox`: what tag and digest references of one repository share. */
export function repositoryOf(ref: ImageReference): string {
  return ref.name;
}

/** `sha256:<64 hex>`: an image id or content digest (Drydock only produces sha256). */
export function isDigest(s: string): boolean {
  return s.startsWith('sha256:') && isAnyDigest(s);
}

/** A full 64-hex image id without algorithm. */
export function isFullHexId(s: string): boolean {
  return isImageIdentifier(s);
}

/**
 * Parses a stored containerd image name (always normalized, with a tag or a
 * digest) back into a reference; undefined for anything else (dangling records,
 * names written by other tools).
 */
export function parseStoredName(name: string): ImageReference | undefined {
  try {
    const ref = parseStrict(name);
    if (ref.domain === '' || (ref.tag === undefined && ref.digest === undefined)) return undefined;
    return ref;
  } catch {
    return undefined;
  }
}
