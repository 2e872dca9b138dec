import { InvalidArgumentError } from '@drydock/errors';
import { bodies } from '../docker/request-bodies';
import { decodeBody } from '../http/go-json';
import type { AuthConfig } from './registry-proxy-client';

/**
 * POST /auth's body (types.AuthConfig), type-checked with Go's texts. dockerd answers
 * malformed and mistyped bodies with 500 ("EOF" for an empty one); they are the
 * client's fault, so 400 here with the same words.
 */
export function parseAuthBody(raw: Uint8Array): AuthConfig {
  return { ...decodeBody(bodies.auth, raw) };
}

/** base64.URLEncoding (padded), as the docker CLI encodes X-Registry-Auth. */
export function encodeRegistryAuth(auth: AuthConfig): string {
  const s = Buffer.from(JSON.stringify(auth)).toString('base64url');
  return s + '='.repeat((4 - (s.length % 4)) % 4);
}

/**
 * The credentials of a push. dockerd requires X-Registry-Auth there and, for
 * old clients, falls back to an AuthConfig JSON body; neither is a 400 in its
 * words: "Bad parameters and missing X-Registry-Auth: EOF".
 */
export function pushRegistryAuth(header: string | undefined, body: Uint8Array): string {
  if (header) return header;
  let auth: AuthConfig;
  try {
    auth = parseAuthBody(body);
  } catch (err) {
    throw new InvalidArgumentError(`Bad parameters and missing X-Registry-Auth: ${(err as Error).message}`, { cause: err });
  }
  return encodeRegistryAuth(auth);
}
