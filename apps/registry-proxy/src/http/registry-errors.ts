import { type DistributionCode, RegistryError } from '../registry/errors';
import { UpstreamError } from '../upstream/errors';

/** The one table from distribution error codes to HTTP statuses (the spec's). */
const STATUS: Record<DistributionCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  RANGE_INVALID: 416,
  UNSUPPORTED: 405,
};

export interface ErrorResponse {
  status: number;
  body: { errors: { code: string; message: string; detail?: unknown }[] };
  classified: boolean;
}

/**
 * The distribution error body for an error; unclassified errors are a generic 500 (the
 * caller logs them). The first classified error on the cause chain decides: a
 * RegistryError by this table, an UpstreamError with its own status (an upstream
 * registry's answer passed through, or the proxy's UNAVAILABLE / DIGEST_INVALID).
 */
export function toRegistryErrorResponse(err: unknown): ErrorResponse {
  const e = firstClassified(err);
  if (e instanceof UpstreamError) {
    return { status: e.status, body: { errors: [{ code: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) }] }, classified: true };
  }
  if (e) {
    // RANGE_INVALID is ours, not the spec's: clients get the spec's BLOB_UPLOAD_INVALID with a 416.
    const code = e.code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : e.code;
    return { status: STATUS[e.code], body: { errors: [{ code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) }] }, classified: true };
  }
  return { status: 500, body: { errors: [{ code: 'UNKNOWN', message: 'internal error' }] }, classified: false };
}

function firstClassified(err: unknown): RegistryError | UpstreamError | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 16 && cur; i++) {
    if (cur instanceof RegistryError || cur instanceof UpstreamError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
