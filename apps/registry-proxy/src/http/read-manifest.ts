import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../registry/errors';

/** A manifest PUT's body, refused with MANIFEST_INVALID once it passes `max` bytes (never buffered beyond). */
export async function readManifestBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new RegistryError('MANIFEST_INVALID', `manifest is larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
