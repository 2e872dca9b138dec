import type { supervisorV1 } from '@drydock/proto';
import { NotImplementedError } from '@drydock/errors';
import type { Handlers } from './handlers';

/** docker save / docker load (drydock.supervisor.v1.Images): thin adapter over the archive domain code. */
export function imageArchiveHandlers(h: Handlers): Pick<supervisorV1.ImagesServer, 'exportImages' | 'loadImages'> {
  return {
    exportImages: h.serverStream('ExportImages', async function* (_req: supervisorV1.ExportImagesRequest): AsyncIterable<supervisorV1.ArchiveChunk> {
      throw new NotImplementedError('save is not wired yet');
    }),
    loadImages: h.clientStream('LoadImages', async (): Promise<supervisorV1.LoadImagesResponse> => {
      throw new NotImplementedError('load is not wired yet');
    }),
  };
}
