import { findDrydockError, InternalError, NotFoundError, UnavailableError, type DrydockError } from '@drydock/errors';
import { familiarString, type ImageReference } from '../reference';

/** One entry of distribution's error body `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

/**
 * A non-2xx answer of the registry-proxy (the upstream's status and codes, or
 * the proxy's own UNAVAILABLE / DIGEST_INVALID), or a failure to reach the
 * proxy at all (`status` 0, `network` set).
 */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly errors: RegistryErrorEntry[],
    message: string,
    readonly network?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }

  /** The first error code of the body ('' when the body had none). */
  get code(): string {
    return this.errors[0]?.code ?? '';
  }

  /** Builds the error from a response status and body text. */
  static fromResponse(status: number, body: string, what: string): RegistryError {
    const errors = parseErrorBody(body);
    return new RegistryError(status, errors, errors.length ? errcodeText(errors[0]) : `${what}: unexpected status ${status}`);
  }

  static network(err: Error & { code?: string }, what: string): RegistryError {
    return new RegistryError(0, [], `${what}: ${err.message}`, err.code ?? 'ERR', { cause: err });
  }
}

export function parseErrorBody(body: string): RegistryErrorEntry[] {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[] };
    return (parsed.errors ?? [])
      .filter((e) => typeof e?.code === 'string')
      .map((e) => ({ code: String(e.code), message: typeof e.message === 'string' ? e.message : '', detail: e.detail }));
  } catch {
    return [];
  }
}

/**
 * distribution's errcode.Error.Error(): the code in lower-case words, then the
 * message (`unauthorized: authentication required`). Messages the proxy wrote
 * in dockerd's own words (a Go HTTP client error such as
 * `Get "https://h/v2/": dial tcp ...`, or `no basic auth credentials` behind
 * one) are passed through as they are.
 */
export function errcodeText(e: RegistryErrorEntry): string {
  if (/^(Get|Head|Post|Put|Patch|Delete) "/.test(e.message) || e.code === 'UNAVAILABLE') return e.message;
  const words = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message ? `${words}: ${e.message}` : words;
}

/**
 * Transient: worth retrying against the proxy (it restarts, or its upstream
 * blipped). Refused, reset, cut-off connections, 502/503/504, and
 * TOOMANYREQUESTS are; the registry's definite answers (404, 401, denied,
 * bad request) are not, nor is an unreachable upstream while resolving.
 */
export function isTransient(err: unknown, opts: { upstreamUnavailable: boolean }): boolean {
  if (!(err instanceof RegistryError)) return false;
  if (err.network) return true;
  if (err.code === 'UNAVAILABLE') return opts.upstreamUnavailable;
  if (err.code === 'DIGEST_INVALID') return true;
  return err.status === 502 || err.status === 503 || err.status === 504 || err.status === 429;
}

/**
 * dockerd 20.10's pull error translation (distribution/errors.go): a missing
 * manifest or repository and `denied` are NotFound (404) with the reference in
 * the text; everything else (unauthorized, an unreachable registry) is an
 * unclassified error, which dockerd answers with 500.
 */
export function translatePullError(err: unknown, ref: ImageReference): DrydockError {
  if (!(err instanceof RegistryError)) return findDrydockError(err) ?? new InternalError(String((err as Error)?.message ?? err), { cause: err });
  if (err.network) return proxyUnreachable(err);
  const first = err.errors[0];
  if (first) {
    const text = errcodeText(first);
    switch (first.code) {
      case 'MANIFEST_UNKNOWN':
        return new NotFoundError(`manifest for ${familiarString(ref)} not found: ${text}`, { cause: err });
      case 'NAME_UNKNOWN':
        return new NotFoundError(`repository ${ref.familiarName} not found: ${text}`, { cause: err });
      case 'DENIED':
        return new NotFoundError(`pull access denied for ${ref.familiarName}, repository does not exist or may require 'docker login': ${text}`, { cause: err });
    }
    return new InternalError(text, { cause: err });
  }
  if (err.status === 404) return new NotFoundError(`manifest for ${familiarString(ref)} not found: manifest unknown: manifest unknown`, { cause: err });
  return new InternalError(err.message, { cause: err });
}

/**
 * Push errors: dockerd reports the registry's words (`denied: requested access
 * to the resource is denied`), and an authentication failure without the
 * request in front (`no basic auth credentials`, where pull says
 * `Head "<url>": no basic auth credentials`).
 */
export function translatePushError(err: unknown): DrydockError {
  if (!(err instanceof RegistryError)) return findDrydockError(err) ?? new InternalError(String((err as Error)?.message ?? err), { cause: err });
  if (err.network) return proxyUnreachable(err);
  const first = err.errors[0];
  const text = first ? errcodeText(first) : err.message;
  return new InternalError(first?.code === 'UNAUTHORIZED' ? text.replace(/^(Get|Head|Post|Put|Patch|Delete) "[^"]*": /, '') : text, { cause: err });
}

/** The registry-proxy itself could not be reached (after the retries): Drydock's own outage, not the registry's answer. */
function proxyUnreachable(err: RegistryError): DrydockError {
  return new UnavailableError(`registry-proxy unreachable: ${err.message}`, { cause: err });
}
