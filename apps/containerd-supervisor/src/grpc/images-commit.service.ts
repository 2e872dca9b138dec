import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { ImageRunConfig } from '@drydock/oci-spec';
import type { ImageCommitter } from '../images/commit/image-committer';
import { buildCacheRecords, pruneBuildCache } from '../images/commit/build-cache';
import type { ImageStore } from '../images';
import type { EventAdapter } from '../wiring/event-adapter';
import { incoming, type Handlers } from './handlers';

function jsonField(b: Uint8Array | undefined, what: string): ImageRunConfig | undefined {
  if (!b || b.length === 0) return undefined;
  try {
    const v = JSON.parse(Buffer.from(b).toString('utf8')) as unknown;
    if (v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as ImageRunConfig;
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not a JSON object: ${(err as Error).message}`);
  }
}

/** CommitImage, ReadImagePaths, ListChildImages (drydock.supervisor.v1.Images): docker commit and the builder's primitives. */
export interface ImageUsers {
  imageUsers(imageId: string): { running: string[]; stopped: string[] };
}

export function imageCommitHandlers(h: Handlers, committer: ImageCommitter, images: ImageStore, events: EventAdapter, containers: ImageUsers): Pick<supervisorV1.ImagesServer, 'commitImage' | 'readImagePaths' | 'listChildImages' | 'buildCache'> {
  const used = (id: string) => {
    const u = containers.imageUsers(id);
    return u.running.length + u.stopped.length > 0;
  };
  const isInUse = async (imageId: string) => {
    const u = containers.imageUsers(imageId);
    return { running: u.running.length > 0, containerIds: [...u.running, ...u.stopped] };
  };
  return {
    commitImage: h.clientStream('CommitImage', async (_messages, call) => {
      const it = incoming<supervisorV1.CommitImageRequest>(call)[Symbol.asyncIterator]();
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw new InvalidArgumentError('the first CommitImage message must carry header');
      async function* chunks(): AsyncIterable<Buffer> {
        for (;;) {
          const n = await it.next();
          if (n.done) {
            if (call.cancelled) throw new UnavailableError('commit cancelled by the client');
            return;
          }
          if (n.value.chunk && n.value.chunk.length > 0) yield Buffer.from(n.value.chunk);
        }
      }
      const labels = header.metadataLabels ?? {};
      const res = await committer.commit(
        {
          containerId: header.containerId || undefined,
          parentImage: header.parentImage || undefined,
          pause: !!header.pause,
          repository: header.repository || undefined,
          tag: header.tag || undefined,
          changes: header.changes ?? [],
          comment: header.comment || undefined,
          author: header.author || undefined,
          config: jsonField(header.configJson, 'config_json'),
          containerConfig: jsonField(header.containerConfigJson, 'container_config_json'),
          recordedContainer: header.recordedContainer || undefined,
          metadataLabels: labels,
          consume: !!header.consume,
        },
        header.layerTar ? chunks() : undefined,
      );
      // dockerd logs "commit" for docker commit, not for build steps (CommitBuildStep)
      const c = res.container;
      if (c && !('build' in labels)) {
        events.container('commit', { id: c.id ?? '', name: c.name ?? '', image: c.config?.image ?? '', labels: c.config?.labels ?? {} }, { comment: header.comment ?? '', imageID: res.id, imageRef: res.name ?? '' });
      }
      return { id: res.id, emptyLayer: res.emptyLayer };
    }),
    readImagePaths: h.unary('ReadImagePaths', async (req: supervisorV1.ReadImagePathsRequest) => {
      const rows = await committer.readImagePaths(req.image ?? '', req.paths ?? [], Number(req.readLimit ?? 0));
      return { paths: rows.map((r) => ({ ...r, mtimeMs: String(Math.floor(r.mtimeMs)) })) };
    }),
    buildCache: h.unary('BuildCache', async (req: supervisorV1.BuildCacheRequest) => {
      let deleted: string[] = [];
      let spaceReclaimed = 0;
      if (req.prune) {
        ({ deleted, spaceReclaimed } = await pruneBuildCache(images, used, !!req.all, async (id) => {
          await images.removeImage(id, { force: false, noPrune: true, isInUse });
          events.image('delete', id, id);
        }));
      }
      const records = await buildCacheRecords(images, used);
      const ts = (s: string) => ({ seconds: String(Math.floor(Date.parse(s) / 1000)), nanos: 0 });
      return {
        records: records.map((r) => ({ id: r.id, parent: r.parent, description: r.description, inUse: r.inUse, shared: r.shared, size: String(r.size), created: ts(r.created) })),
        deleted,
        spaceReclaimed: String(spaceReclaimed),
      };
    }),
    listChildImages: h.unary('ListChildImages', async (req: supervisorV1.ListChildImagesRequest) => {
      const rows = await images.childImages(req.parentId ?? '', req.depth ?? 1);
      return { images: rows.map((r) => ({ id: r.id, configJson: Buffer.from(JSON.stringify(r.config)), metadataLabels: r.metadata, parentId: r.parent ?? '' })) };
    }),
  };
}
