import type { ImageLookup, ResolvedImage } from '../containers/ports';
import { danglingName, type ImageStore } from '../images';

/** ImageLookup over the node's image store. */
export class ImageLookupAdapter implements ImageLookup {
  constructor(private readonly images: ImageStore) {}

  async resolveImage(ref: string): Promise<ResolvedImage> {
    const img = await this.images.resolveImage(ref);
    return {
      id: img.id,
      // the containerd record the container refers to (an untagged image has only its dangling record)
      name: img.names[0] ?? danglingName(img.target.digest ?? img.manifestDigest),
      chainId: img.chainId,
      config: stripNulls(img.config.config ?? {}),
    };
  }
}

/** Image configs may hold JSON nulls (Docker writes `"Cmd": null`); the domain wants absent fields. */
function stripNulls<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as { [K in keyof T]: Exclude<T[K], null> };
}
