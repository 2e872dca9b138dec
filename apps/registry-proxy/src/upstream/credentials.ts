import { createHash } from 'node:crypto';

/** Docker's AuthConfig as the client sends it (X-Registry-Auth, POST /auth). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/**
 * What the proxy answers a challenge with. Lives in memory for one request (and keyed
 * by hash in the token cache); never logged, never written anywhere.
 */
export interface Credentials {
  username: string;
  password: string;
  identityToken: string;
  registryToken: string;
}

export const ANONYMOUS: Credentials = Object.freeze({ username: '', password: '', identityToken: '', registryToken: '' });

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** AuthConfig -> credentials; `auth` ("user:password" in base64) fills an empty username/password, as in Docker. */
export function credentialsFrom(config: AuthConfig | undefined): Credentials {
  if (!config || typeof config !== 'object') return ANONYMOUS;
  let username = str(config.username);
  let password = str(config.password);
  const auth = str(config.auth);
  if (!username && !password && auth) {
    const plain = Buffer.from(auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      username = plain.slice(0, i);
      password = plain.slice(i + 1);
    }
  }
  return { username, password, identityToken: str(config.identitytoken), registryToken: str(config.registrytoken) };
}

/**
 * The X-Registry-Auth header (base64url JSON, padded or not; standard base64 tolerated).
 * Like dockerd, a header that does not decode means anonymous rather than an error.
 */
export function decodeRegistryAuth(header: string | string[] | undefined): Credentials {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return ANONYMOUS;
  try {
    return credentialsFrom(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as AuthConfig);
  } catch {
    return ANONYMOUS;
  }
}

export function isAnonymous(c: Credentials): boolean {
  return !c.username && !c.password && !c.identityToken && !c.registryToken;
}

/** A key for caches that must not mix callers: a hash, so no secret sits in a map key. */
export function credentialsKey(c: Credentials): string {
  if (isAnonymous(c)) return 'anonymous';
  return createHash('sha256').update(JSON.stringify([c.username, c.password, c.identityToken, c.registryToken])).digest('hex').slice(0, 32);
}
