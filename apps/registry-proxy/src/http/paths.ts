/** What a /v2/... path addresses. `name` is still unvalidated (the store checks it). */
export type RegistryPath =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string };

// Repository names contain slashes, so the route is matched from its end. The greedy
// name group makes `a/blobs/uploads/x` the upload x of repository `a`.
const PATTERNS: [RegExp, (m: RegExpExecArray) => RegistryPath][] = [
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1], reference: m[2] })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1] })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1], id: m[2] })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1], digest: m[2] })],
  [/^(.+)\/tags\/list\/?$/, (m) => ({ kind: 'tags', name: m[1] })],
];

/** Parses a request path (without query); undefined when it is no registry route. */
export function parseRegistryPath(path: string): RegistryPath | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(path.slice(4));
  } catch {
    return undefined;
  }
  if (rest === '_catalog' || rest === '_catalog/') return { kind: 'catalog' };
  for (const [re, build] of PATTERNS) {
    const m = re.exec(rest);
    if (m) return build(m);
  }
  return undefined;
}
