import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InternalError, PermissionDeniedError } from '@drydock/errors';

/** dockerd's pkg/authorization maxBodySize: bodies this large or larger are not sent to plugins. */
export const AUTHZ_MAX_BODY = 1048576;
export const AUTHZ_REQ = 'AuthZPlugin.AuthZReq';
export const AUTHZ_RES = 'AuthZPlugin.AuthZRes';

/** dockerd's authorization.Request (RequestBody/ResponseBody are []byte: base64 in JSON). */
export interface AuthzBody {
  User: string;
  UserAuthNMethod: string;
  RequestMethod: string;
  RequestURI: string;
  RequestBody?: string;
  RequestHeaders: Record<string, string>;
  ResponseStatusCode?: number;
  ResponseBody?: string;
  ResponseHeaders?: Record<string, string>;
}

/**
 * What a resolver or a call answers for a plugin disabled since the chain last used it: dockerd's
 * Disable takes an authz plugin out of its middleware (RemovePlugin), so it is asked no more.
 */
export const DROPPED: unique symbol = Symbol('authz plugin dropped');

/** One authz plugin as the chain calls it (a PluginClient bound to a deadline). */
export interface AuthzPlugin {
  /** The name in dockerd's texts: a managed plugin's full name (`name:latest`), as its SetName makes it. */
  name: string;
  call(method: string, body: AuthzBody): Promise<unknown>;
}

/** Resolves a configured name to a callable plugin, or DROPPED; may throw (not found, disabled, ...). */
export type AuthzResolver = (name: string) => Promise<AuthzPlugin | typeof DROPPED>;

/** Go's textproto.CanonicalMIMEHeaderKey: how dockerd's plugins see header names. */
export function canonicalHeader(k: string): string {
  return k
    .split('-')
    .map((p) => (p ? p[0].toUpperCase() + p.slice(1).toLowerCase() : p))
    .join('-');
}

const SECRET_HEADERS = new Set(['authorization', 'x-registry-config', 'x-registry-auth']);

/** dockerd's headers(): one value per name (the last), credentials left out. */
export function authzHeaders(raw: Iterable<[string, string | number | readonly string[] | undefined]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of raw) {
    if (v === undefined || SECRET_HEADERS.has(k.toLowerCase())) continue;
    out[canonicalHeader(k)] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
  }
  return out;
}

/** From Node's rawHeaders (name, value, name, value...). */
export function requestHeaders(req: IncomingMessage): Record<string, string> {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  return authzHeaders(pairs);
}

export function responseHeaders(h: OutgoingHttpHeaders): Record<string, string> {
  return authzHeaders(Object.entries(h));
}

/** dockerd's sendBody: only JSON bodies, never /auth's (credentials). */
export function sendsBody(uri: string, contentType: string | undefined): boolean {
  if (uri.split('?')[0].endsWith('/auth')) return false;
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

/** Whether the request body goes to the plugins (and so is read before the route runs). */
export function requestBodyWanted(req: IncomingMessage): boolean {
  const len = Number(req.headers['content-length'] ?? 0);
  return sendsBody(req.url ?? '/', req.headers['content-type']) && len > 0 && len < AUTHZ_MAX_BODY;
}

/** The user as dockerd sees it: the client certificate's CommonName on TLS, else nobody. */
export function requestUser(req: IncomingMessage): { user: string; method: string } {
  const s = req.socket as Partial<TLSSocket>;
  if (typeof s.getPeerCertificate === 'function' && s.encrypted) {
    const cn = s.getPeerCertificate()?.subject?.CN;
    if (cn) return { user: Array.isArray(cn) ? cn[0] : cn, method: 'TLS' };
  }
  return { user: '', method: '' };
}

export function newAuthzBody(req: IncomingMessage, body: Buffer | undefined): AuthzBody {
  const { user, method } = requestUser(req);
  const b: AuthzBody = { User: user, UserAuthNMethod: method, RequestMethod: req.method ?? 'GET', RequestURI: req.url ?? '/', RequestHeaders: requestHeaders(req) };
  if (body && body.length > 0) b.RequestBody = body.toString('base64');
  return b;
}

/** dockerd's authorizationError (403). */
function denied(name: string, msg: string): PermissionDeniedError {
  return new PermissionDeniedError(`authorization denied by plugin ${name}: ${msg}`);
}

/**
 * The configured plugins, asked in order (dockerd's authorization.Ctx). Any failure to get an
 * answer (not found, unreachable, deadline, non-JSON) denies: the chain fails closed.
 */
export class AuthzChain {
  constructor(
    readonly names: readonly string[],
    private readonly resolve: AuthzResolver,
  ) {}

  /** Before the route runs. */
  request(body: AuthzBody): Promise<void> {
    return this.ask(AUTHZ_REQ, body);
  }

  /** After the route, before its answer leaves (the body only when it is JSON and under the limit). */
  response(body: AuthzBody, status: number, headers: OutgoingHttpHeaders, resBody: Buffer | undefined): Promise<void> {
    const b: AuthzBody = { ...body, ResponseStatusCode: status, ResponseHeaders: responseHeaders(headers) };
    const ct = headers['content-type'];
    if (resBody && resBody.length > 0 && resBody.length < AUTHZ_MAX_BODY && sendsBody(body.RequestURI, Array.isArray(ct) ? ct[0] : ct === undefined ? undefined : String(ct))) {
      b.ResponseBody = resBody.toString('base64');
    }
    return this.ask(AUTHZ_RES, b);
  }

  private async ask(method: string, body: AuthzBody): Promise<void> {
    for (const configured of this.names) {
      let answer: unknown;
      let name = configured;
      try {
        const plugin = await this.resolve(configured);
        if (plugin === DROPPED) continue;
        name = plugin.name;
        answer = await plugin.call(method, body);
      } catch (err) {
        throw new InternalError(`plugin ${name} failed with error: ${(err as Error).message}`, { cause: err });
      }
      // disabled while this request ran (its own `plugin disable`): dockerd re-reads the chain before AuthZRes
      if (answer === DROPPED) continue;
      const a = answer as { Allow?: unknown; Msg?: unknown } | undefined;
      if (!a || typeof a !== 'object' || (a.Allow !== undefined && typeof a.Allow !== 'boolean')) {
        throw new InternalError(`plugin ${name} failed with error: ${method}: plugin answered no authorization response`);
      }
      if (a.Allow !== true) throw denied(name, typeof a.Msg === 'string' ? a.Msg : '');
    }
  }
}
