import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@drydock/logging';
import { type AuthConfig, decodeRegistryAuth } from '../upstream/credentials';
import { DockerApiError } from '../upstream/errors';
import type { LoginService } from '../upstream/login';
import { DEFAULT_SEARCH_LIMIT, type SearchService } from '../upstream/search';
import type { ServiceConfig } from '../upstream/service-config';

const MAX_AUTH_BODY = 64 * 1024;

/**
 * `/drydock/v1/auth`, `/drydock/v1/search` and `/drydock/v1/registry-config`: Docker Engine API-shaped control calls
 * (JSON answers, `{"message"}` errors with dockerd's status) for the gateway.
 */
export class ControlRoutes {
  constructor(
    private readonly login: Pick<LoginService, 'login'>,
    private readonly searcher: Pick<SearchService, 'search'>,
    /** dockerd's RegistryConfig of this proxy's upstream settings (`docker info`). */
    private readonly registryConfig: ServiceConfig,
  ) {}

  /** false when the path is no control endpoint. */
  async handle(path: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, signal: AbortSignal, log: Logger): Promise<boolean> {
    const route = path.replace(/\/+$/, '');
    if (route !== '/drydock/v1/auth' && route !== '/drydock/v1/search' && route !== '/drydock/v1/registry-config') return false;
    try {
      if (route === '/drydock/v1/auth' && req.method === 'POST') {
        const config = await readJson(req);
        sendJson(res, 200, await this.login.login(config, signal));
      } else if (route === '/drydock/v1/registry-config' && (req.method === 'GET' || req.method === 'HEAD')) {
        req.resume();
        sendJson(res, 200, this.registryConfig);
      } else if (route === '/drydock/v1/search' && (req.method === 'GET' || req.method === 'HEAD')) {
        req.resume();
        const limitText = q.get('limit') ?? '';
        if (limitText !== '' && !/^[+-]?\d+$/.test(limitText)) throw new DockerApiError(400, `strconv.Atoi: parsing ${JSON.stringify(limitText)}: invalid syntax`);
        const limit = limitText === '' ? DEFAULT_SEARCH_LIMIT : Number(limitText);
        sendJson(res, 200, await this.searcher.search(q.get('term') ?? '', limit, decodeRegistryAuth(req.headers['x-registry-auth']), signal));
      } else {
        req.resume();
        throw new DockerApiError(405, `${req.method} is not allowed on ${route}`);
      }
    } catch (err) {
      if (signal.aborted) return true;
      if (err instanceof DockerApiError) {
        log.debug({ path: route, status: err.status, message: err.message }, 'control request failed');
        sendJson(res, err.status, { message: err.message });
      } else {
        log.error({ err, path: route }, 'control request failed');
        sendJson(res, 500, { message: 'internal error' });
      }
    }
    return true;
  }
}

async function readJson(req: IncomingMessage): Promise<AuthConfig> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_AUTH_BODY) throw new DockerApiError(400, 'request body too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    return v && typeof v === 'object' ? (v as AuthConfig) : {};
  } catch (err) {
    throw new DockerApiError(400, `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
