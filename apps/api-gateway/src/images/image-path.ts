import { NotFoundError } from '@drydock/errors';

/** The verbs that may follow an image name in /images/<name>/<verb>, per method. */
const VERBS: Record<string, readonly string[]> = {
  GET: ['json', 'history', 'get'],
  HEAD: ['json'],
  POST: ['tag', 'push'],
};

/**
 * Splits the tail of `/images/*` into image name and verb. Names contain "/"
 * (repositories) and ":" (registry ports, tags), so the verb is the LAST path
 * segment and everything before it is the name, as dockerd's `{name:.*}/json`
 * routes do. DELETE has no verb: the whole tail is the name.
 */
export function parseImagePath(method: string, tail: string): { name: string; verb: string } {
  const t = tail.replace(/\/+$/, '');
  if (method === 'DELETE') {
    if (!t) throw new NotFoundError('page not found');
    return { name: t, verb: '' };
  }
  const i = t.lastIndexOf('/');
  const verb = i >= 0 ? t.slice(i + 1) : '';
  const name = i >= 0 ? t.slice(0, i) : '';
  if (!name || !(VERBS[method] ?? []).includes(verb)) throw new NotFoundError('page not found');
  return { name, verb };
}

/**
 * Whether the first component of a reference names a registry host, by
 * distribution/reference's rule: it contains "." or ":" or is "localhost".
 */
export function hasRegistryHost(ref: string): boolean {
  const i = ref.indexOf('/');
  if (i < 0) return false;
  const first = ref.slice(0, i);
  if (first === 'docker.io' || first === 'index.docker.io' || first === 'registry-1.docker.io') return false;
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/** reference.FamiliarName for a Docker Hub reference: `docker.io/library/busybox:1` -> `busybox`. */
export function familiarName(ref: string): string {
  let name = ref;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  for (const p of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) if (name.startsWith(p)) name = name.slice(p.length);
  if (/^library\/[^/]+$/.test(name)) name = name.slice('library/'.length);
  return name;
}

/** `fromImage` + `tag` as the CLI sends them (tag may be a digest) -> one reference text. */
export function joinReference(fromImage: string, tag: string | null): string {
  if (!tag) return fromImage;
  return /^[a-z0-9]+:[0-9a-f]{32,}$/.test(tag) ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
}

/** Whether a reference text carries a tag or a digest (a ":" after the last "/", or an "@"). */
export function hasTagOrDigest(ref: string): boolean {
  return ref.includes('@') || ref.lastIndexOf(':') > ref.lastIndexOf('/');
}
