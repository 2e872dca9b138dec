import type { IncomingMessage } from 'node:http';

/** One request header's value; an empty header counts as absent (as in Go's Header.Get != ""). */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

/**
 * A small request body (AuthConfig JSON). Reading stops at `max`
 * bytes: what follows cannot be an AuthConfig and fails to parse.
 */
export async function readSmallBody(req: IncomingMessage, max = 64 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) break;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
