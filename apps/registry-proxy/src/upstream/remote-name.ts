import { RegistryError } from '../registry/errors';
import { validateName } from '../registry/names';

/** A repository of a remote registry: `host` as written in the name, `repo` the path on that registry. */
export interface RemoteName {
  host: string;
  repo: string;
  /** "<host>/<repo>": the key of the tag fallback. */
  key: string;
}

const HOST_RE = /^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Docker's rule (reference.splitDockerDomain): a first component with "." or ":", or "localhost", is a registry host. */
export function isRemoteName(name: string): boolean {
  const i = name.indexOf('/');
  if (i <= 0) return false;
  const first = name.slice(0, i);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/**
 * Splits a remote repository name; undefined for the proxy's own repositories.
 * Docker Hub's official images may come as `docker.io/busybox` (made `library/busybox`).
 */
export function parseRemoteName(name: string): RemoteName | undefined {
  if (!isRemoteName(name)) return undefined;
  const i = name.indexOf('/');
  const host = name.slice(0, i);
  let repo = name.slice(i + 1);
  if (!HOST_RE.test(host)) throw new RegistryError('NAME_INVALID', `invalid registry host ${JSON.stringify(host)}`);
  if ((host === 'docker.io' || host === 'index.docker.io') && !repo.includes('/')) repo = `library/${repo}`;
  validateName(repo);
  return { host, repo, key: `${host}/${repo}` };
}
