import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DrydockError, type ErrorCode, errorFromCode, findDrydockError, InternalError } from './errors';

/** The one table between the taxonomy and gRPC status codes. */
const toGrpc: Record<ErrorCode, status> = {
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  NOT_IMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

const fromGrpc = new Map<status, ErrorCode>([
  ...Object.entries(toGrpc).map(([k, v]) => [v, k as ErrorCode] as [status, ErrorCode]),
  [status.ABORTED, 'FAILED_PRECONDITION'],
  [status.CANCELLED, 'UNAVAILABLE'],
  [status.RESOURCE_EXHAUSTED, 'UNAVAILABLE'],
  [status.OUT_OF_RANGE, 'INVALID_ARGUMENT'],
  [status.DATA_LOSS, 'INTERNAL'],
  [status.UNKNOWN, 'INTERNAL'],
]);

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as ServiceError).code === 'number' && 'metadata' in err;
}

/**
 * Converts an error thrown by domain code into a gRPC status for the wire.
 * Unclassified errors become INTERNAL with a generic message (never a stack).
 */
export function toGrpcStatus(err: unknown): { code: status; details: string; metadata: Metadata } {
  const known = findDrydockError(err);
  if (known) return { code: toGrpc[known.code], details: known.message, metadata: new Metadata() };
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}

/**
 * Converts a gRPC failure received from a remote service (ours or containerd's)
 * into the taxonomy, keeping the original as cause. `details` is the remote
 * message without grpc-js' "N CODE: " prefix.
 */
export function fromGrpcError(err: unknown): DrydockError {
  if (err instanceof DrydockError) return err;
  if (isServiceError(err)) {
    const code = fromGrpc.get(err.code) ?? 'INTERNAL';
    return errorFromCode(code, err.details || err.message, err);
  }
  return new InternalError(err instanceof Error ? err.message : String(err), { cause: err });
}
