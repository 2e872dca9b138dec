/**
 * Errors of the upstream side. Callers of the proxy see distribution's error body
 * `{"errors":[{code,message,detail}]}` with `status`: an upstream registry's own
 * errors keep its status and code (origin 'upstream'); errors the proxy makes
 * itself (origin 'proxy') carry their whole text in dockerd's words.
 */
export class UpstreamError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail?: unknown;
  readonly origin: 'upstream' | 'proxy';
  constructor(status: number, code: string, message: string, opts: { detail?: unknown; origin?: 'upstream' | 'proxy'; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'UpstreamError';
    this.status = status;
    this.code = code;
    this.detail = opts.detail;
    this.origin = opts.origin ?? 'upstream';
  }
}

/**
 * No HTTP answer at all (refused, DNS, TLS, reset, deadline): dockerd falls back to the
 * next endpoint on these. The message is Go's `<Method> "<url>": <reason>`.
 */
export class TransportError extends UpstreamError {
  constructor(message: string, cause?: unknown) {
    super(502, 'UNAVAILABLE', message, { origin: 'proxy', cause });
    this.name = 'TransportError';
  }
}

/** A token server refused to issue a token (dockerd's errdefs.Unauthorized for a login). */
export class TokenRefusedError extends UpstreamError {
  constructor(status: number, code: string, message: string) {
    super(status, code, message, { origin: 'proxy' });
    this.name = 'TokenRefusedError';
  }
}

/** The upstream sent bytes that do not hash to the digest they were asked for (or claimed). */
export function digestMismatch(expected: string, actual: string, what: string): UpstreamError {
  return new UpstreamError(502, 'DIGEST_INVALID', `${what} digest did not match: expected ${expected}, got ${actual}`, { origin: 'proxy', detail: { expected, actual } });
}

/**
 * An error of a Docker Engine API-style control call (login, search): dockerd's
 * status and `{"message"}` text.
 */
export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DockerApiError';
  }
}

/** The first error of `type` on the cause chain. */
export function findCause<T extends Error>(err: unknown, type: abstract new (...a: never[]) => T): T | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 16 && cur; i++) {
    if (cur instanceof type) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
