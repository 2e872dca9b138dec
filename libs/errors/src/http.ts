import { type ErrorCode, findDrydockError } from './errors';

/** The one table between the taxonomy and HTTP statuses (dockerd's errdefs -> httpstatus). */
const toHttp: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 409,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  NOT_IMPLEMENTED: 501,
  INTERNAL: 500,
};

/**
 * Docker's error response for an error: status and `{"message": ...}`.
 * Unclassified errors become 500 with a generic message (the caller logs the stack).
 */
export function toHttpError(err: unknown): { status: number; message: string; classified: boolean } {
  const known = findDrydockError(err);
  if (known) return { status: toHttp[known.code], message: known.message, classified: known.code !== 'INTERNAL' };
  return { status: 500, message: 'internal error', classified: false };
}
