import { getServers } from 'node:dns';

/** Raised by our own deadline; worded as Go's http.Client timeout. */
export class DeadlineError extends Error {
  constructor() {
    super('context deadline exceeded (Client.Timeout exceeded while awaiting headers)');
    this.name = 'DeadlineError';
  }
}

interface SysError {
  code?: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  hostname?: string;
  message?: string;
}

function hostPort(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  const a = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? a : `${a}:${port}`;
}

/** dockerd names the resolver it asked ("lookup x on 10.0.0.53:53"). */
function resolverSuffix(): string {
  const s = getServers()[0];
  if (!s) return '';
  return s.includes(':') && !s.startsWith('[') ? ` on [${s}]:53` : ` on ${s}:53`;
}

/**
 * The reason part of Go's net/http error for a failed request, from Node's error, so
 * users read what dockerd would print (`dial tcp 127.0.0.1:5999: connect: connection refused`).
 */
export function goNetReason(err: unknown, url: URL): string {
  if (err instanceof DeadlineError) return err.message;
  const e = (err ?? {}) as SysError;
  const target = hostPort(e.address, e.port) || url.host;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${target}: connect: connection refused`;
    case 'ENOTFOUND':
      return `dial tcp: lookup ${e.hostname ?? url.hostname}${resolverSuffix()}: no such host`;
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${e.hostname ?? url.hostname}${resolverSuffix()}: server misbehaving`;
    case 'ETIMEDOUT':
      return `dial tcp ${target}: i/o timeout`;
    case 'EHOSTUNREACH':
      return `dial tcp ${target}: connect: no route to host`;
    case 'ENETUNREACH':
      return `dial tcp ${target}: connect: network is unreachable`;
    case 'ECONNRESET':
      return `read tcp ${target}: read: connection reset by peer`;
    case 'EPIPE':
      return `write tcp ${target}: write: broken pipe`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return 'http: server gave HTTP response to HTTPS client';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return 'x509: certificate signed by unknown authority';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'x509: certificate has expired or is not yet valid';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `x509: certificate is not valid for ${url.hostname}`;
  }
  const msg = e.message ?? String(err);
  if (/wrong version number|packet length too long|http request/i.test(msg)) return 'http: server gave HTTP response to HTTPS client';
  if (msg === 'socket hang up') return 'EOF';
  return msg;
}

/** Go's `*url.Error` text: `Get "https://host/v2/": <reason>`. */
export function goUrlError(method: string, url: URL, reason: string): string {
  return `${method[0]}${method.slice(1).toLowerCase()} "${url.toString()}": ${reason}`;
}
