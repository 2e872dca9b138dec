import { InvalidArgumentError } from '@drydock/errors';

/**
 * Docker image references (docker/distribution `reference`, as vendored in Docker 20.10):
 * ParseNormalizedNamed's normalisation (`busybox` -> `docker.io/library/busybox`), the grammar, the
 * familiar (short) form, and Docker's error texts.
 */

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_NAME = 'library';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar, built from the same pieces as reference/regexp.go (RE2 and JS agree on these).
// Go's `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*` has an empty-matching separator, harmless in RE2
// but catastrophic for a backtracking engine on long invalid input. This form accepts exactly the
// same language (an empty separator only joins alphanumerics) without the ambiguity.
const nameComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${domainComponent}(?:(?:\\.${domainComponent})+)?(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}';
const name = `(?:${domain}\\/)?${nameComponent}(?:(?:\\/${nameComponent})+)?`;
const referenceRegexp = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domain})\\/)?(${nameComponent}(?:(?:\\/${nameComponent})+)?)$`);
const anchoredTagRegexp = new RegExp(`^${tag}$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host[:port], `docker.io` for Docker Hub. */
  domain: string;
  /** Repository path within the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  /** `algo:hex`, validated like go-digest. */
  digest?: string;
  /** Fully qualified repository name, `domain/path`. */
  name: string;
  /** The short repository name Docker prints (`busybox`, `user/app`, `host:5000/app`). */
  familiarName: string;
  /** Full form `name[:tag][@digest]`. */
  toString(): string;
}

function makeRef(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  // domain is "" only for unqualified names given to parseStrict.
  const fullName = domain ? `${domain}/${path}` : path;
  return {
    domain,
    path,
    ...(tag ? { tag } : {}),
    ...(digest ? { digest } : {}),
    name: fullName,
    familiarName: domain ? familiarizeName(domain, path) : path,
    toString: () => fullName + (tag ? `:${tag}` : '') + (digest ? `@${digest}` : ''),
  };
}

function familiarizeName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  const parts = path.split('/');
  if (parts.length === 2 && parts[0] === OFFICIAL_REPO_NAME) return parts[1];
  return path;
}

function splitDockerDomain(s: string): [string, string] {
  const i = s.indexOf('/');
  let dom: string;
  let remainder: string;
  if (i === -1 || (!/[.:]/.test(s.slice(0, i)) && s.slice(0, i) !== 'localhost')) {
    dom = DEFAULT_DOMAIN;
    remainder = s;
  } else {
    dom = s.slice(0, i);
    remainder = s.slice(i + 1);
  }
  if (dom === LEGACY_DEFAULT_DOMAIN) dom = DEFAULT_DOMAIN;
  if (dom === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = `${OFFICIAL_REPO_NAME}/${remainder}`;
  return [dom, remainder];
}

// go-digest Digest.Validate, for the algorithms it supports.
function validateDigest(d: string): void {
  const i = d.indexOf(':');
  if (i <= 0 || i + 1 === d.length) throw new InvalidArgumentError('invalid checksum digest format');
  const alg = d.slice(0, i);
  const enc = d.slice(i + 1);
  const sizes: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const size = sizes[alg];
  if (size === undefined) {
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d)) {
      throw new InvalidArgumentError('invalid checksum digest format');
    }
    throw new InvalidArgumentError('unsupported digest algorithm');
  }
  if (enc.length !== size) throw new InvalidArgumentError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(enc)) throw new InvalidArgumentError('invalid checksum digest format');
}

/**
 * reference.ParseNormalizedNamed: parses a user-typed reference and fills in Docker Hub's domain
 * and the `library/` prefix. Does not add a tag (see normalizeTagged). Errors (InvalidArgumentError)
 * carry Docker's texts: `invalid reference format`, `invalid reference format: repository name must
 * be lowercase`, `invalid repository name (<64 hex>), cannot specify 64-byte hexadecimal strings`,
 * `repository name must not be more than 255 characters`, digest validation errors.
 */
export function parseReference(s: string): ImageReference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidArgumentError(
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [dom, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidArgumentError('invalid reference format: repository name must be lowercase');
  }
  return parseStrict(`${dom}/${remainder}`);
}

/**
 * reference.Parse: the grammar without normalisation (the name must already be fully qualified
 * for `domain` to be set). Exposed for callers holding canonical names, e.g. from image stores.
 */
export function parseStrict(s: string): ImageReference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === '') throw new InvalidArgumentError('repository name must have at least one component');
    if (referenceRegexp.test(s.toLowerCase())) throw new InvalidArgumentError('repository name must be lowercase');
    throw new InvalidArgumentError('invalid reference format');
  }
  const [, fullName, tg, dg] = m;
  if (fullName.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidArgumentError(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const nm = anchoredNameRegexp.exec(fullName)!;
  const dom = nm[1] ?? '';
  const path = nm[2];
  if (dg) validateDigest(dg);
  return makeRef(dom, path, tg || undefined, dg || undefined);
}

/**
 * Parses and, when the reference has neither tag nor digest, adds `:latest`
 * (reference.TagNameOnly / ParseDockerRef without the tag-dropping for digests).
 */
export function normalizeTagged(s: string): ImageReference {
  const ref = parseReference(s);
  if (ref.tag === undefined && ref.digest === undefined) return withTag(ref, DEFAULT_TAG);
  return ref;
}

/** A copy of `ref` with `tag` (validated: `invalid tag format`) and its digest kept. */
export function withTag(ref: ImageReference, newTag: string): ImageReference {
  if (!anchoredTagRegexp.test(newTag)) throw new InvalidArgumentError('invalid tag format');
  return makeRef(ref.domain, ref.path, newTag, ref.digest);
}

/**
 * The familiar string Docker prints: short name plus `:tag` and/or `@digest`
 * (`docker.io/library/busybox:latest` -> `busybox:latest`).
 */
export function familiarString(ref: ImageReference): string {
  return ref.familiarName + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** True if `s` is a full 64-hex image id (what ParseAnyReference treats as `sha256:<s>`). */
export function isImageIdentifier(s: string): boolean {
  return anchoredIdentifierRegexp.test(s);
}
