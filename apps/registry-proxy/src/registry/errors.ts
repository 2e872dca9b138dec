/**
 * The distribution spec's error codes. The registry speaks this protocol's own
 * taxonomy (clients such as skopeo and docker branch on these codes), so domain code
 * throws RegistryError and the HTTP adapter maps each code to its status once
 * (http/registry-errors.ts).
 */
export type DistributionCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'RANGE_INVALID'
  | 'UNSUPPORTED';

export class RegistryError extends Error {
  constructor(
    readonly code: DistributionCode,
    message: string,
    readonly detail?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

/** The first RegistryError on the cause chain. */
export function findRegistryError(err: unknown): RegistryError | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 16 && cur; i++) {
    if (cur instanceof RegistryError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
