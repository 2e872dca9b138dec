import { STATUS_CODES } from 'node:http';
import { type AuthConfig, credentialsFrom } from './credentials';
import { DockerApiError, TokenRefusedError, UpstreamError } from './errors';
import type { Endpoint } from './endpoints';
import type { RegistryClient } from './registry-client';

export interface LoginResult {
  Status: string;
  IdentityToken: string;
}

/** An error after which dockerd tries the registry's next endpoint (v2 not confirmed yet). */
class Fallback extends Error {
  constructor(readonly inner: DockerApiError) {
    super(inner.message);
  }
}

/**
 * Docker's POST /auth (registry/auth.go loginV2): ping the registry's /v2/, answer its
 * challenge with the given credentials, and require a 200. Endpoints as for a push
 * (never a mirror). Statuses and texts are dockerd's: 401 when a token server refuses
 * the credentials, 500 for everything else. Nothing is remembered.
 */
export class LoginService {
  constructor(private readonly client: RegistryClient) {}

  async login(config: AuthConfig, signal?: AbortSignal): Promise<LoginResult> {
    const host = serverHost(config.serveraddress);
    let last: DockerApiError | undefined;
    for (const ep of await this.client.resolver.endpoints(host, 'push')) {
      try {
        return await this.loginAt(ep, config, signal);
      } catch (err) {
        if (!(err instanceof Fallback)) throw err;
        last = err.inner;
      }
    }
    throw last ?? new DockerApiError(500, `no endpoints found for ${host}`);
  }

  private async loginAt(ep: Endpoint, config: AuthConfig, signal?: AbortSignal): Promise<LoginResult> {
    const url = new URL('/v2/', ep.origin);
    let v2 = false;
    const fail = (status: number, message: string, cause?: unknown): never => {
      const e = new DockerApiError(status, message, { cause });
      throw v2 ? e : new Fallback(e);
    };
    const credentials = credentialsFrom(config);
    let header: string | undefined;
    let refreshToken: string | undefined;
    try {
      const ping = await this.client.ping(ep, signal, true);
      v2 = ping.v2;
      const a = await this.client.authorization(ep, { credentials, scopes: [] }, 'GET', url, signal, { offline: true });
      header = a.header;
      refreshToken = a.refreshToken;
    } catch (err) {
      if (signal?.aborted) throw err;
      // dockerd answers 401 only when a token server refused the credentials.
      if (err instanceof UpstreamError) fail(err instanceof TokenRefusedError && err.status === 401 ? 401 : 500, err.message, err);
      throw err;
    }
    let status: number;
    try {
      const res = await this.client.fetchRaw(ep, { method: 'GET', path: '/v2/', headers: header ? { Authorization: header } : {}, signal });
      status = res.status;
    } catch (err) {
      if (signal?.aborted) throw err;
      if (err instanceof UpstreamError) return fail(500, err.message, err);
      throw err;
    }
    if (status === 200) return { Status: 'Login Succeeded', IdentityToken: refreshToken ?? credentials.identityToken ?? '' };
    return fail(500, `login attempt to ${url} failed with status: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd());
  }
}

/** The registry host of a login's serveraddress: "127.0.0.1:5000", "https://index.docker.io/v1/", "http://reg:5000". */
export function serverHost(serveraddress: string | undefined): string {
  if (!serveraddress) return 'index.docker.io';
  const withScheme = /^https?:\/\//.test(serveraddress) ? serveraddress : `https://${serveraddress}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch (err) {
    throw new DockerApiError(400, `unable to parse server address: parse ${JSON.stringify(withScheme)}: invalid URL`, { cause: err });
  }
  return u.host;
}
