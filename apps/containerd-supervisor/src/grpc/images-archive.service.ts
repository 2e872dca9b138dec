import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import { ImageExporter, ImageLoader, type LocalBlobs } from '../images/archive';
import type { ImageStore } from '../images';
import type { EventAdapter } from '../wiring/event-adapter';
import { incoming, type Handlers } from './handlers';

/** Bytes per ArchiveChunk: well under gRPC's 4 MiB default message limit. */
const CHUNK_BYTES = 1024 * 1024;

/** docker save / docker load (drydock.supervisor.v1.Images): thin adapter over the archive domain code. */
export function imageArchiveHandlers(h: Handlers, images: ImageStore, events: EventAdapter, localBlobs?: LocalBlobs): Pick<supervisorV1.ImagesServer, 'exportImages' | 'loadImages'> {
  const exporter = new ImageExporter(images, images.logger, { timeoutMs: 60 * 60 * 1000, localBlobs });
  const loader = new ImageLoader(images, images.logger);
  return {
    exportImages: h.serverStream('ExportImages', async (req: supervisorV1.ExportImagesRequest) => {
      // resolved and measured before the first message: failures reach the client as a status
      const prepared = await exporter.prepare(req.refs ?? []);
      // dockerd logs "save" per image before it writes the archive
      for (const [i, id] of prepared.imageIds.entries()) events.image('save', id, id, prepared.labels[i]);
      return (async function* (): AsyncGenerator<supervisorV1.ArchiveChunk> {
        for await (const c of prepared.chunks) {
          for (let i = 0; i < c.length; i += CHUNK_BYTES) yield { data: c.subarray(i, i + CHUNK_BYTES) };
        }
      })();
    }),
    loadImages: h.clientStream('LoadImages', async (_messages, call) => {
      const it = incoming<supervisorV1.LoadImagesRequest>(call)[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || !first.value.header) throw new InvalidArgumentError('the first LoadImages message must carry header');
      async function* chunks(): AsyncIterable<Buffer> {
        for (;;) {
          const n = await it.next();
          if (n.done) {
            // grpc-js ends the message stream on cancellation too: a cut-off upload must not load
            if (call.cancelled) throw new UnavailableError('load cancelled by the client');
            return;
          }
          if (n.value.chunk && n.value.chunk.length > 0) yield n.value.chunk;
        }
      }
      const res = await loader.load(chunks());
      for (const [i, id] of res.imageIds.entries()) events.image('load', id, id, res.labels[i]);
      return { loaded: res.messages };
    }),
  };
}
