import type { OutgoingHttpHeaders } from 'node:http';
import type { Credentials } from './credentials';
import { DOCKER_HUB_INDEX, type EndpointResolver } from './endpoints';
import { DockerApiError, UpstreamError } from './errors';
import type { HttpTransport } from './http-transport';

/** One row of `docker search` (registry.SearchResult). */
export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export const DEFAULT_SEARCH_LIMIT = 25;
const RESULTS_LIMIT = 4 * 1024 * 1024;

/** dockerd's splitReposSearchTerm: "host/x" names a registry, anything else is Docker Hub. */
export function splitSearchTerm(term: string): { index: string; remote: string } {
  const i = term.indexOf('/');
  if (i < 0) return { index: 'docker.io', remote: term };
  const first = term.slice(0, i);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return { index: 'docker.io', remote: term };
  return { index: first, remote: term.slice(i + 1) };
}

/**
 * `docker search` as dockerd 20.10 does it: the registry's v1 search API
 * (`/v1/search?q=&n=`), after validating the endpoint with `/v1/_ping` (HTTPS, then
 * plain HTTP for insecure registries). Registries without the v1 API (distribution)
 * answer 404: dockerd's "Unexpected status code 404". Errors carry dockerd's status.
 */
export class SearchService {
  constructor(
    private readonly http: HttpTransport,
    private readonly resolver: EndpointResolver,
  ) {}

  async search(term: string, limit: number, credentials: Credentials, signal?: AbortSignal): Promise<SearchResult[]> {
    if (term.includes('://')) throw new DockerApiError(400, 'Invalid repository name (ex: "registry.domain.tld/myrepos")');
    const { index, remote } = splitSearchTerm(term);
    const official = this.resolver.isOfficial(index);
    const base = official ? { origin: DOCKER_HUB_INDEX, tlsVerify: true } : await this.validate(index, signal);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new DockerApiError(400, `Limit ${limit} is outside the range of [1, 100]`);
    const q = official ? remote.replace(/^library\//, '') : remote;
    const url = new URL(`${base.origin}/v1/search?q=${encodeURIComponent(q)}&n=${limit}`);
    const headers: OutgoingHttpHeaders = { 'X-Docker-Token': 'true' };
    if (credentials.username || credentials.password) headers.Authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    let res;
    try {
      res = await this.http.fetch({ method: 'GET', url, headers, tlsVerify: base.tlsVerify, signal, followRedirects: true }, RESULTS_LIMIT);
    } catch (err) {
      if (err instanceof UpstreamError) throw new DockerApiError(500, err.message, { cause: err });
      throw err;
    }
    if (res.status !== 200) throw new DockerApiError(500, `Unexpected status code ${res.status}`);
    let doc: { results?: unknown };
    try {
      doc = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new DockerApiError(500, `error decoding registry search results: ${(err as Error).message}`, { cause: err });
    }
    const rows = Array.isArray(doc?.results) ? (doc.results as Record<string, unknown>[]) : [];
    return rows.map((r) => ({
      name: String(r.name ?? ''),
      description: String(r.description ?? ''),
      star_count: Number(r.star_count ?? 0),
      is_official: Boolean(r.is_official),
      is_automated: Boolean(r.is_automated),
    }));
  }

  /** dockerd's validateEndpoint: any HTTP answer to /v1/_ping will do. */
  private async validate(host: string, signal?: AbortSignal): Promise<{ origin: string; tlsVerify: boolean }> {
    const secure = await this.resolver.isSecure(host);
    const ping = async (origin: string) => {
      await this.http.fetch({ method: 'GET', url: new URL(`${origin}/v1/_ping`), tlsVerify: secure, signal }, 64 * 1024);
    };
    try {
      await ping(`https://${host}`);
      return { origin: `https://${host}`, tlsVerify: secure };
    } catch (err) {
      if (signal?.aborted || !(err instanceof UpstreamError)) throw err;
      if (secure) {
        throw new DockerApiError(
          500,
          `invalid registry endpoint https://${host}/v1/: ${err.message}. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, please add \`--insecure-registry ${host}\` to the daemon's arguments. In the case of HTTPS, if you have access to the registry's CA certificate, no need for the flag; simply place the CA certificate at /etc/docker/certs.d/${host}/ca.crt`,
          { cause: err },
        );
      }
      try {
        await ping(`http://${host}`);
        return { origin: `http://${host}`, tlsVerify: false };
      } catch (err2) {
        if (signal?.aborted || !(err2 instanceof UpstreamError)) throw err2;
        throw new DockerApiError(500, `invalid registry endpoint "http://${host}/v1/". HTTPS attempt: ${err.message}. HTTP attempt: ${err2.message}`, { cause: err2 });
      }
    }
  }
}
