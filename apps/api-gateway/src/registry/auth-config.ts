import { InternalError, InvalidArgumentError } from '@drydock/errors';
import type { AuthConfig } from './registry-proxy-client';

/**
 * The message Go's encoding/json gives for a body that is not JSON, for the
 * cases clients hit (empty, or a non-JSON first character); dockerd returns
 * those texts as they are.
 */
export function goJsonDecodeError(text: string): string {
  const t = text.replace(/^[\s]+/, '');
  if (!t) return 'EOF';
  const c = t[0];
  if (!'{["-0123456789tfn'.includes(c)) return `invalid character '${c}' looking for beginning of value`;
  return 'unexpected EOF';
}

/** Parses a JSON body the way dockerd's json.Decoder does; null when it is not a JSON value. */
function decodeJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    if (!text.trim()) return { ok: false, message: 'EOF' };
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, message: goJsonDecodeError(text) };
  }
}

/**
 * POST /auth's body (types.AuthConfig). dockerd's decode failures are plain
 * errors, so 500 with Go's text ("EOF" for an empty body).
 */
export function parseAuthBody(text: string): AuthConfig {
  const r = decodeJson(text);
  if (!r.ok) throw new InternalError(r.message);
  if (!r.value || typeof r.value !== 'object' || Array.isArray(r.value)) throw new InternalError('json: cannot unmarshal into Go value of type types.AuthConfig');
  return r.value as AuthConfig;
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
export function pushRegistryAuth(header: string | undefined, body: string): string {
  if (header) return header;
  const r = decodeJson(body);
  if (!r.ok) throw new InvalidArgumentError(`Bad parameters and missing X-Registry-Auth: ${r.message}`);
  const auth = r.value && typeof r.value === 'object' && !Array.isArray(r.value) ? (r.value as AuthConfig) : {};
  return encodeRegistryAuth(auth);
}
