/**
 * Drydock's error taxonomy. Domain code throws these; transport adapters map them
 * once (grpc.ts here for gRPC, the gateway's table for HTTP). Messages are the
 * words a Docker user would read; `cause` keeps the underlying error for logs.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL';

export abstract class DrydockError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DrydockError {
  readonly code = 'NOT_FOUND' as const;
}
/** A name or object already exists (Docker answers 409 Conflict). */
export class AlreadyExistsError extends DrydockError {
  readonly code = 'ALREADY_EXISTS' as const;
}
export class InvalidArgumentError extends DrydockError {
  readonly code = 'INVALID_ARGUMENT' as const;
}
/** The object is in the wrong state for the operation (Docker answers 409). */
export class FailedPreconditionError extends DrydockError {
  readonly code = 'FAILED_PRECONDITION' as const;
}
export class UnauthenticatedError extends DrydockError {
  readonly code = 'UNAUTHENTICATED' as const;
}
export class PermissionDeniedError extends DrydockError {
  readonly code = 'PERMISSION_DENIED' as const;
}
export class UnavailableError extends DrydockError {
  readonly code = 'UNAVAILABLE' as const;
}
export class DeadlineExceededError extends DrydockError {
  readonly code = 'DEADLINE_EXCEEDED' as const;
}
export class NotImplementedError extends DrydockError {
  readonly code = 'NOT_IMPLEMENTED' as const;
}
export class InternalError extends DrydockError {
  readonly code = 'INTERNAL' as const;
}

const classes: Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => DrydockError> = {
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  INVALID_ARGUMENT: InvalidArgumentError,
  FAILED_PRECONDITION: FailedPreconditionError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  UNAVAILABLE: UnavailableError,
  DEADLINE_EXCEEDED: DeadlineExceededError,
  NOT_IMPLEMENTED: NotImplementedError,
  INTERNAL: InternalError,
};

/** Builds the taxonomy error for a code (used when decoding a remote status). */
export function errorFromCode(code: ErrorCode, message: string, cause?: unknown): DrydockError {
  return new classes[code](message, { cause });
}

/** The first DrydockError on the cause chain, or undefined. */
export function findDrydockError(err: unknown): DrydockError | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    if (cur instanceof DrydockError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The taxonomy code of an error, walking the cause chain; INTERNAL if unclassified. */
export function errorCode(err: unknown): ErrorCode {
  return findDrydockError(err)?.code ?? 'INTERNAL';
}

export function isNotFound(err: unknown): boolean {
  return errorCode(err) === 'NOT_FOUND';
}
export function isAlreadyExists(err: unknown): boolean {
  return errorCode(err) === 'ALREADY_EXISTS';
}
export function isUnavailable(err: unknown): boolean {
  return errorCode(err) === 'UNAVAILABLE';
}
export function isFailedPrecondition(err: unknown): boolean {
  return errorCode(err) === 'FAILED_PRECONDITION';
}
