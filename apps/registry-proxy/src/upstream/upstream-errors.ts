import { STATUS_CODES } from 'node:http';
import { UpstreamError } from './errors';

/** What a request addressed, to name a bare 404 the way distribution would. */
export type Subject = 'manifest' | 'blob' | 'upload' | 'repository';

const NOT_FOUND: Record<Subject, [string, string]> = {
  manifest: ['MANIFEST_UNKNOWN', 'manifest unknown'],
  blob: ['BLOB_UNKNOWN', 'blob unknown to registry'],
  upload: ['BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry'],
  repository: ['NAME_UNKNOWN', 'repository name not known to registry'],
};

/**
 * An upstream's non-success answer as an UpstreamError with its status and its own
 * distribution error (first of the list; the rest kept in detail). Bodies without one
 * (HEAD, proxies in between) get distribution's code for the status.
 */
export function upstreamError(status: number, body: Buffer | undefined, subject: Subject): UpstreamError {
  if (body?.length) {
    try {
      const doc = JSON.parse(body.toString('utf8'));
      const errors = Array.isArray(doc?.errors) ? doc.errors : undefined;
      if (errors?.length && typeof errors[0]?.code === 'string') {
        const e = errors[0];
        return new UpstreamError(status, e.code, typeof e.message === 'string' ? e.message : e.code.toLowerCase(), { detail: e.detail });
      }
      if (typeof doc?.details === 'string') return new UpstreamError(status, status === 401 ? 'UNAUTHORIZED' : 'UNKNOWN', doc.details);
    } catch {
      // not JSON: fall through to the status
    }
  }
  switch (status) {
    case 401:
      return new UpstreamError(401, 'UNAUTHORIZED', 'authentication required');
    case 403:
      return new UpstreamError(403, 'DENIED', 'requested access to the resource is denied');
    case 404: {
      const [code, message] = NOT_FOUND[subject];
      return new UpstreamError(404, code, message);
    }
    case 429:
      return new UpstreamError(429, 'TOOMANYREQUESTS', 'too many requests');
  }
  return new UpstreamError(status, 'UNKNOWN', `received unexpected HTTP status: ${status} ${STATUS_CODES[status] ?? ''}`.trim());
}

/** Upstream answers that mean "not reachable right now" rather than "no". */
export function isUnreachable(err: unknown): boolean {
  return err instanceof UpstreamError && (err.code === 'UNAVAILABLE' || (err.origin === 'upstream' && err.status >= 500));
}
