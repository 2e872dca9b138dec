import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '@drydock/logging';
import { type Challenge, parseChallenges } from './challenge';
import { type Credentials, credentialsKey } from './credentials';
import type { Endpoint, EndpointResolver } from './endpoints';
import { TokenRefusedError, TransportError, UpstreamError, findCause } from './errors';
import { goUrlError } from './go-errors';
import type { BufferedResponse, HttpTransport, StreamingResponse, UpstreamResponse } from './http-transport';

/** What a registry said to an unauthenticated GET /v2/. */
export interface PingResult {
  /** The registry sent `Docker-Distribution-API-Version: registry/2.0`. */
  v2: boolean;
  status: number;
  challenges: Challenge[];
}

export interface RegistryRequest {
  method: string;
  /** Path and query on the endpoint, e.g. `/v2/library/busybox/manifests/latest`. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | Readable;
  signal?: AbortSignal;
  followRedirects?: boolean;
}

/** Who asks, and for what (token scopes such as `repository:team/app:pull,push`). */
export interface Access {
  credentials: Credentials;
  scopes: string[];
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const PING_TTL_MS = 5 * 60 * 1000;
const TOKEN_CACHE_MAX = 1000;
/** distribution's client: tokens without expires_in live 60 s. */
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_MARGIN_MS = 5000;

/**
 * Talks to upstream registries as dockerd does: endpoint order and fallbacks, the
 * /v2/ ping, and the challenge-response dance (Basic, or Bearer with a token from
 * the realm: anonymous, basic credentials, a refresh token, or the caller's registry
 * token as is). Tokens are cached in memory per (realm, service, scopes, credentials
 * hash); nothing touches the disk.
 */
export class RegistryClient {
  private readonly pings = new Map<string, { at: number; result: PingResult }>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly preferred = new Map<string, { origin: string; at: number }>();
  private readonly log: Logger;

  constructor(
    private readonly transport: HttpTransport,
    readonly resolver: EndpointResolver,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.log = logger.child({ component: 'registry-client' });
  }

  /**
   * Runs `op` on the registry's endpoints in order. A transport failure (no HTTP
   * answer) moves on to the next endpoint; so does any error of a mirror. An endpoint
   * that answered over HTTPS is not retried over plain HTTP. The last error wins.
   */
  async withEndpoints<T>(host: string, purpose: 'pull' | 'push', op: (ep: Endpoint) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const endpoints = await this.resolver.endpoints(host, purpose);
    // dockerd walks the list for every pull; a pull here is many requests, so the
    // endpoint that answered last time goes first for a while (HTTPS keeps being tried
    // again once that expires).
    const key = `${purpose} ${host}`;
    const preferred = this.preferred.get(key);
    if (preferred && this.now() - preferred.at < PING_TTL_MS) {
      const i = endpoints.findIndex((e) => e.origin === preferred.origin);
      if (i > 0) endpoints.unshift(...endpoints.splice(i, 1));
    }
    let last: unknown;
    // dockerd's confirmedTLSRegistries: a host that answered over HTTPS is not tried over HTTP.
    const tlsConfirmed = new Set<string>();
    for (const ep of endpoints) {
      const u = new URL(ep.origin);
      if (u.protocol === 'http:' && tlsConfirmed.has(u.host)) continue;
      try {
        const result = await op(ep);
        if (endpoints.length > 1) this.preferred.set(key, { origin: ep.origin, at: this.now() });
        return result;
      } catch (err) {
        if (signal?.aborted) throw err;
        const transport = findCause(err, TransportError);
        if (transport) {
          this.pings.delete(ep.origin);
          if (preferred?.origin === ep.origin) this.preferred.delete(key);
        } else if (u.protocol === 'https:') tlsConfirmed.add(u.host);
        if (!transport && !ep.mirror) throw err;
        this.log.debug({ endpoint: ep.origin, err: (err as Error).message }, 'trying next endpoint');
        last = err;
      }
    }
    throw last;
  }

  /** GET /v2/ without credentials (cached for a while per endpoint). */
  async ping(ep: Endpoint, signal?: AbortSignal, fresh = false): Promise<PingResult> {
    const hit = this.pings.get(ep.origin);
    if (hit && !fresh && this.now() - hit.at < PING_TTL_MS) return hit.result;
    const res = await this.transport.fetch({ method: 'GET', url: new URL('/v2/', ep.origin), tlsVerify: ep.tlsVerify, signal }, 64 * 1024);
    const result: PingResult = {
      v2: String(res.headers['docker-distribution-api-version'] ?? '')
        .split(/[\s,]+/)
        .includes('registry/2.0'),
      status: res.status,
      challenges: res.status === 401 ? parseChallenges(res.challenges) : [],
    };
    this.pings.set(ep.origin, { at: this.now(), result });
    return result;
  }

  /** A request with the body streaming back; authorized for `access`. */
  async open(ep: Endpoint, access: Access, r: RegistryRequest): Promise<StreamingResponse> {
    return this.authorized(ep, access, r, (headers) =>
      this.transport.open({ method: r.method, url: new URL(r.path, ep.origin), headers, body: r.body, tlsVerify: ep.tlsVerify, signal: r.signal, followRedirects: r.followRedirects }),
    );
  }

  /** A request read whole (at most `limit` bytes); authorized for `access`. */
  async fetch(ep: Endpoint, access: Access, r: RegistryRequest, limit?: number): Promise<BufferedResponse> {
    return this.authorized(ep, access, r, (headers) =>
      this.transport.fetch({ method: r.method, url: new URL(r.path, ep.origin), headers, body: r.body, tlsVerify: ep.tlsVerify, signal: r.signal, followRedirects: r.followRedirects }, limit),
    );
  }

  /** A request without any authorization (login sends its own header). */
  fetchRaw(ep: Endpoint, r: RegistryRequest, limit = 64 * 1024): Promise<BufferedResponse> {
    return this.transport.fetch({ method: r.method, url: new URL(r.path, ep.origin), headers: r.headers, body: r.body, tlsVerify: ep.tlsVerify, signal: r.signal }, limit);
  }

  /** Plain HTTP access for the v1 search API (not a registry endpoint list). */
  get http(): HttpTransport {
    return this.transport;
  }

  /**
   * The Authorization header for `access` at `ep`, or none when the registry asked
   * for nothing. `forUrl`/`method` word the error when Basic credentials are missing.
   */
  async authorization(
    ep: Endpoint,
    access: Access,
    method: string,
    forUrl: URL,
    signal?: AbortSignal,
    options: { offline?: boolean } = {},
  ): Promise<{ header?: string; refreshToken?: string; cacheKey?: string }> {
    const ping = await this.ping(ep, signal);
    const c = access.credentials;
    for (const ch of ping.challenges) {
      if (ch.scheme === 'bearer' && ch.params.realm) {
        if (c.registryToken) return { header: `Bearer ${c.registryToken}` };
        const t = await this.token(ep, ch, access, method, forUrl, signal, options.offline);
        return { header: `Bearer ${t.token}`, refreshToken: t.refreshToken, cacheKey: t.cacheKey };
      }
      if (ch.scheme === 'basic') {
        if (!c.username && !c.password) {
          throw new UpstreamError(401, 'UNAUTHORIZED', goUrlError(method, forUrl, 'no basic auth credentials'), { origin: 'proxy' });
        }
        return { header: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
      }
    }
    return {};
  }

  private async authorized<T extends UpstreamResponse>(ep: Endpoint, access: Access, r: RegistryRequest, send: (h: OutgoingHttpHeaders) => Promise<T>): Promise<T> {
    const url = new URL(r.path, ep.origin);
    const auth = await this.authorization(ep, access, r.method, url, r.signal);
    const res = await send(auth.header ? { ...r.headers, Authorization: auth.header } : { ...r.headers });
    // A cached token the registry no longer takes (restarted with a new key, revoked):
    // drop it and ask once more with a fresh one, when the body can be sent again.
    if (res.status === 401 && auth.cacheKey && this.tokens.delete(auth.cacheKey) && !isStream(r.body)) {
      drain(res);
      const again = await this.authorization(ep, access, r.method, url, r.signal);
      return send(again.header ? { ...r.headers, Authorization: again.header } : { ...r.headers });
    }
    return res;
  }

  /** A bearer token for the scopes: cached, else from the realm. */
  private async token(
    ep: Endpoint,
    ch: Challenge,
    access: Access,
    method: string,
    forUrl: URL,
    signal?: AbortSignal,
    offline = false,
  ): Promise<{ token: string; refreshToken?: string; cacheKey?: string }> {
    const realm = ch.params.realm;
    const service = ch.params.service ?? '';
    const scopes = [...new Set(access.scopes)].sort();
    const key = `${realm}\n${service}\n${scopes.join(' ')}\n${credentialsKey(access.credentials)}`;
    const hit = this.tokens.get(key);
    if (hit && hit.expiresAt > this.now() && !offline) return { token: hit.token, cacheKey: key };
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new UpstreamError(401, 'UNAUTHORIZED', goUrlError(method, forUrl, `invalid token realm ${JSON.stringify(realm)}`), { origin: 'proxy' });
    }
    const c = access.credentials;
    // The realm usually sits on another host; its TLS policy is the registry's when it is the same host.
    const tlsVerify = realmUrl.host === new URL(ep.origin).host ? ep.tlsVerify : await this.resolver.isSecure(realmUrl.host);
    let res: BufferedResponse;
    try {
      if (c.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, service, client_id: 'docker' });
        if (scopes.length) form.set('scope', scopes.join(' '));
        if (offline) form.set('access_type', 'offline');
        res = await this.transport.fetch({
          method: 'POST',
          url: realmUrl,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
          body: Buffer.from(form.toString()),
          tlsVerify,
          signal,
        }, 1024 * 1024);
      } else {
        const u = new URL(realmUrl);
        if (service) u.searchParams.set('service', service);
        for (const s of scopes) u.searchParams.append('scope', s);
        if (c.username) u.searchParams.set('account', c.username);
        if (offline) {
          u.searchParams.set('offline_token', 'true');
          u.searchParams.set('client_id', 'docker');
        }
        const headers: OutgoingHttpHeaders = {};
        if (c.username || c.password) headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
        res = await this.transport.fetch({ method: 'GET', url: u, headers, tlsVerify, signal, followRedirects: true }, 1024 * 1024);
      }
    } catch (err) {
      if (err instanceof TransportError) throw new TransportError(goUrlError(method, forUrl, err.message), err);
      throw err;
    }
    if (res.status < 200 || res.status > 299) throw tokenError(res, method, forUrl);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown; refresh_token?: unknown };
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new UpstreamError(401, 'UNAUTHORIZED', goUrlError(method, forUrl, 'unable to decode token response'), { origin: 'proxy' });
    }
    const token = typeof body.access_token === 'string' && body.access_token ? body.access_token : typeof body.token === 'string' ? body.token : '';
    if (!token) throw new UpstreamError(401, 'UNAUTHORIZED', goUrlError(method, forUrl, 'authorization server did not include a token in the response'), { origin: 'proxy' });
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    if (this.tokens.size >= TOKEN_CACHE_MAX) this.evictTokens();
    this.tokens.set(key, { token, expiresAt: this.now() + seconds * 1000 - TOKEN_MARGIN_MS });
    return { token, refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined };
  }

  private evictTokens(): void {
    const now = this.now();
    for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
    // Still full: drop the oldest half (Map keeps insertion order).
    if (this.tokens.size >= TOKEN_CACHE_MAX) for (const k of [...this.tokens.keys()].slice(0, TOKEN_CACHE_MAX / 2)) this.tokens.delete(k);
  }
}

function isStream(body: unknown): boolean {
  return !!body && !Buffer.isBuffer(body);
}

/** Discards a response body that will not be used (a buffered one is already read). */
function drain(res: UpstreamResponse): void {
  const body = (res as { body?: unknown }).body;
  if (body && !Buffer.isBuffer(body)) (body as Readable).resume();
}

/**
 * A token endpoint's refusal, as distribution's client words it: Docker Hub's
 * `{"details": ...}`, distribution's `{"errors": [...]}`, else the status.
 */
function tokenError(res: BufferedResponse, method: string, forUrl: URL): UpstreamError {
  let message = res.status === 401 ? 'authentication required' : `received unexpected HTTP status: ${res.status}`;
  let code = res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'DENIED' : 'UNKNOWN';
  try {
    const b = JSON.parse(res.body.toString('utf8'));
    if (typeof b?.details === 'string' && b.details) message = b.details;
    else if (Array.isArray(b?.errors) && b.errors[0]?.code) {
      code = String(b.errors[0].code);
      message = String(b.errors[0].message ?? message);
    }
  } catch {
    // not JSON: keep the status' wording
  }
  const status = res.status === 401 || res.status === 403 ? res.status : 502;
  return new TokenRefusedError(status, code, goUrlError(method, forUrl, `${code.toLowerCase().replace(/_/g, ' ')}: ${message}`));
}
