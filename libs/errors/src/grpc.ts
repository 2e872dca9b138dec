import type { Metadata, ServiceError } from '@grpc/grpc-js';
import { DrydockError, type ErrorCode, errorFromCode, findDrydockError, InternalError } from './errors';

/**
 * gRPC status codes, fixed by the protocol. Spelled out (not grpc-js' enum) so that importing
 * the taxonomy does not load grpc-js into services that speak only HTTP: the registry-proxy
 * would carry ~12 MB of resident memory for nothing.
 */
const status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
type status = (typeof status)[keyof typeof status];

/** grpc-js is loaded only by the processes that put a status on the wire (they have it loaded anyway). */
function newMetadata(): Metadata {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  return new grpc.Metadata();
}

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
  if (known) return { code: toGrpc[known.code], details: known.message, metadata: newMetadata() };
  return { code: status.INTERNAL, details: 'internal error', metadata: newMetadata() };
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
