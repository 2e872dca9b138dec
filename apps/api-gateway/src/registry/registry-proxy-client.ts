import { request as httpRequest } from 'node:http';
import {
  AlreadyExistsError,
  DeadlineExceededError,
  type DrydockError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
} from '@drydock/errors';

/** Docker's AuthConfig as the CLI sends it to POST /auth (lower-case JSON keys). */
export type AuthConfig = Record<string, unknown>;

/** registry.SearchResult: one row of `docker search`. */
export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/** Docker's registry.ServiceConfig (`RegistryConfig` of /info), as the registry-proxy serves it. */
export interface RegistryServiceConfig {
  AllowNondistributableArtifactsCIDRs: string[];
  AllowNondistributableArtifactsHostnames: string[];
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>;
  Mirrors: string[];
}

/** What the gateway needs from the registry-proxy (apps/registry-proxy/README.md, "Control"). */
export interface RegistryControl {
  /** Checks credentials against the registry; Docker's AuthenticateOKBody. Nothing is stored. */
  login(auth: AuthConfig, signal?: AbortSignal): Promise<{ Status: string; IdentityToken: string }>;
  /** The registry's search results for `term` (with an optional registry host), at most `limit`. */
  search(term: string, limit: number, registryAuth: string | undefined, signal?: AbortSignal): Promise<SearchResult[]>;
  /** The mirrors and insecure registries the proxy works with. */
  registryConfig(signal?: AbortSignal): Promise<RegistryServiceConfig>;
}

/**
 * HTTP client of the registry-proxy's control endpoints. The proxy answers
 * errors with dockerd's status and words ({"message"}); they come back as
 * taxonomy errors carrying that message, so the gateway's one HTTP table
 * gives the client the same status again. An unreachable proxy is Unavailable.
 */
export class RegistryProxyClient implements RegistryControl {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async login(auth: AuthConfig, signal?: AbortSignal): Promise<{ Status: string; IdentityToken: string }> {
    const body = await this.request<{ Status?: string; IdentityToken?: string }>('POST', '/drydock/v1/auth', {
      body: JSON.stringify(auth),
      headers: { 'Content-Type': 'application/json' },
      signal,
    });
    return { Status: body.Status ?? 'Login Succeeded', IdentityToken: body.IdentityToken ?? '' };
  }

  async search(term: string, limit: number, registryAuth: string | undefined, signal?: AbortSignal): Promise<SearchResult[]> {
    const q = new URLSearchParams({ term, limit: String(limit) });
    const rows = await this.request<unknown>('GET', `/drydock/v1/search?${q}`, { headers: registryAuth ? { 'X-Registry-Auth': registryAuth } : {}, signal });
    if (!Array.isArray(rows)) throw new InternalError('registry-proxy: search answered something other than a list');
    return rows.map((r: Partial<SearchResult>) => ({
      name: String(r.name ?? ''),
      description: String(r.description ?? ''),
      star_count: Number(r.star_count ?? 0),
      is_official: Boolean(r.is_official),
      is_automated: Boolean(r.is_automated),
    }));
  }

  async registryConfig(signal?: AbortSignal): Promise<RegistryServiceConfig> {
    const c = await this.request<Partial<RegistryServiceConfig> | undefined>('GET', '/drydock/v1/registry-config', { headers: {}, signal });
    return {
      AllowNondistributableArtifactsCIDRs: c?.AllowNondistributableArtifactsCIDRs ?? [],
      AllowNondistributableArtifactsHostnames: c?.AllowNondistributableArtifactsHostnames ?? [],
      InsecureRegistryCIDRs: c?.InsecureRegistryCIDRs ?? [],
      IndexConfigs: c?.IndexConfigs ?? {},
      Mirrors: c?.Mirrors ?? [],
    };
  }

  /**
   * One control call. node:http rather than fetch: fetch loads undici, about 11 MB
   * resident, and `docker info` asks the proxy on every call.
   */
  private async request<T>(method: string, path: string, init: { body?: string; headers: Record<string, string>; signal?: AbortSignal }): Promise<T> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const body = init.body === undefined ? undefined : Buffer.from(init.body);
        const headers = body ? { ...init.headers, 'Content-Length': String(body.length) } : init.headers;
        const req = httpRequest(new URL(this.baseUrl + path), { method, headers, signal }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      }));
    } catch (err) {
      if (deadline.aborted) throw new DeadlineExceededError(`registry-proxy at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`, { cause: err });
      const e = err as { code?: string; message?: string };
      throw new UnavailableError(`registry-proxy at ${this.baseUrl} is unreachable: ${e.code ?? e.message}`, { cause: err });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status < 200 || status > 299) throw errorForStatus(status, proxyMessage(json) ?? (text.trim() || `registry-proxy answered ${status}`));
    return json as T;
  }
}

/** `{"message"}` (the proxy's control errors) or distribution's `{"errors":[{"message"}]}`. */
function proxyMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { message?: unknown; errors?: { message?: unknown }[] };
  if (typeof b.message === 'string') return b.message;
  const first = Array.isArray(b.errors) ? b.errors[0] : undefined;
  return typeof first?.message === 'string' ? first.message : undefined;
}

/**
 * The proxy's HTTP status back into the taxonomy, so that the gateway's single
 * taxonomy -> HTTP table answers the client with the status dockerd would
 * (the inverse of that table; 502 and 503 both mean the registry could not be reached).
 */
export function errorForStatus(status: number, message: string): DrydockError {
  switch (status) {
    case 400:
      return new InvalidArgumentError(message);
    case 401:
      return new UnauthenticatedError(message);
    case 403:
      return new PermissionDeniedError(message);
    case 404:
      return new NotFoundError(message);
    case 409:
      return new AlreadyExistsError(message);
    case 501:
      return new NotImplementedError(message);
    case 502:
    case 503:
      return new UnavailableError(message);
    case 504:
      return new DeadlineExceededError(message);
    default:
      return new InternalError(message);
  }
}
