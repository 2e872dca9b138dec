import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { ContainerManager } from '../containers/container-manager';
import type { ImageStore } from '../images';
import type { EventAdapter } from '../wiring/event-adapter';
import { incoming, type Handlers } from './handlers';
import type { LocalBlobs } from '../images/archive';
import { imageArchiveHandlers } from './images-archive.service';
import { imageDistributionHandlers, type DistributionDeps } from './images-distribution.service';
import { imageCommitHandlers } from './images-commit.service';
import type { ImageCommitter } from '../images/commit/image-committer';

function rfc3339ToTimestamp(s: string | undefined): { seconds: string; nanos: number } | undefined {
  if (!s) return undefined;
  const ms = Date.parse(s);
  if (Number.isNaN(ms) || ms < 0) return undefined;
  const frac = /\.(\d+)/.exec(s)?.[1] ?? '';
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number((frac + '000000000').slice(0, 9)) };
}

/** Thin gRPC adapter over ImageStore (drydock.supervisor.v1.Images). */
export function imagesService(images: ImageStore, containers: ContainerManager, events: EventAdapter, h: Handlers, distribution: Omit<DistributionDeps, 'events'>, archive: { localBlobs?: LocalBlobs } = {}, committer?: ImageCommitter): supervisorV1.ImagesServer {
  /** Docker's rmi/prune conflict rules need the image's containers, running ones first. */
  const isInUse = async (imageId: string) => {
    const u = containers.imageUsers(imageId);
    return { running: u.running.length > 0, containerIds: [...u.running, ...u.stopped] };
  };
  return {
    ...imageDistributionHandlers(h, { ...distribution, events }),
    ...imageArchiveHandlers(h, images, events, archive.localBlobs),
    ...(committer
      ? imageCommitHandlers(h, committer, images, events, containers)
      : {
          commitImage: h.clientStream('CommitImage', async () => Promise.reject(new InvalidArgumentError('commit is not available'))),
          readImagePaths: h.unary('ReadImagePaths', async () => Promise.reject(new InvalidArgumentError('not available'))),
          listChildImages: h.unary('ListChildImages', async () => Promise.reject(new InvalidArgumentError('not available'))),
          buildCache: h.unary('BuildCache', async () => Promise.reject(new InvalidArgumentError('not available'))),
        }),
    importImage: h.clientStream('ImportImage', async (_messages: AsyncIterable<supervisorV1.ImportImageRequest>, call) => {
      const it = incoming<supervisorV1.ImportImageRequest>(call)[Symbol.asyncIterator]();
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw new InvalidArgumentError('the first ImportImage message must carry header');
      async function* chunks(): AsyncIterable<Buffer> {
        for (;;) {
          const n = await it.next();
          if (n.done) {
            // grpc-js ends the message stream on cancellation too: a cut-off upload must not import
            if (call.cancelled) throw new UnavailableError('import cancelled by the client');
            return;
          }
          if (n.value.chunk && n.value.chunk.length > 0) yield Buffer.from(n.value.chunk);
        }
      }
      const res = await images.importImage(
        { repository: header.repository || undefined, tag: header.tag || undefined, changes: header.changes ?? [], message: header.message || undefined, platform: header.platform || undefined },
        chunks(),
      );
      events.image('import', res.id, res.id);
      return { id: res.id };
    }),
    listImages: h.unary('ListImages', async (req: supervisorV1.ListImagesRequest) => {
      const rows = await images.listImages({ all: req.all, filters: (req.filters ?? []).map((f) => ({ key: f.key ?? '', values: f.values ?? [] })) });
      return {
        images: rows.map((r) => ({
          id: r.id,
          repoTags: r.repoTags,
          repoDigests: r.repoDigests,
          created: rfc3339ToTimestamp(r.created),
          size: String(r.size),
          labels: r.labels,
          containers: containers.imageUsers(r.id).running.length + containers.imageUsers(r.id).stopped.length,
        })),
      };
    }),
    inspectImage: h.unary('InspectImage', async (req: supervisorV1.InspectImageRequest) => {
      const i = await images.inspectImage(req.ref ?? '');
      const history = await images.imageHistory(req.ref ?? '');
      const resolved = await images.resolveImage(i.Id);
      const c = i.Config;
      return {
        id: i.Id,
        repoTags: i.RepoTags,
        repoDigests: i.RepoDigests,
        created: rfc3339ToTimestamp(i.Created),
        architecture: i.Architecture,
        os: i.Os,
        size: String(i.Size),
        config: {
          env: c.Env ?? [],
          cmd: c.Cmd ?? [],
          entrypoint: c.Entrypoint ?? [],
          workingDir: c.WorkingDir,
          user: c.User,
          labels: c.Labels ?? {},
          exposedPorts: Object.keys(c.ExposedPorts ?? {}),
          volumes: Object.keys(c.Volumes ?? {}),
          stopSignal: (c as { StopSignal?: string }).StopSignal ?? '',
        },
        diffIds: i.RootFS.Layers,
        comment: i.Comment,
        author: i.Author,
        configJson: Buffer.from(JSON.stringify(resolved.config)),
        parent: i.Parent,
        history: history.map((x) => ({ created: { seconds: String(x.Created), nanos: 0 }, createdBy: x.CreatedBy, comment: x.Comment, emptyLayer: x.Size === 0 && x.Id === '<missing>' })),
      };
    }),
    tagImage: h.unary('TagImage', async (req: supervisorV1.TagImageRequest) => {
      const name = await images.tagImage(req.source ?? '', req.repository ?? '', req.tag || undefined);
      const id = (await images.resolveImage(req.source ?? '')).id;
      events.image('tag', id, name);
      return {};
    }),
    imageHistory: h.unary('ImageHistory', async (req: supervisorV1.ImageHistoryRequest) => {
      const rows = await images.imageHistory(req.ref ?? '');
      return { rows: rows.map((r) => ({ id: r.Id, created: String(r.Created), createdBy: r.CreatedBy, tags: r.Tags ?? [], size: String(r.Size), comment: r.Comment })) };
    }),
    pruneImages: h.unary('PruneImages', async (req: supervisorV1.PruneImagesRequest) => {
      const res = await images.pruneImages({
        filters: (req.filters ?? []).map((f) => ({ key: f.key ?? '', values: f.values ?? [] })),
        isInUse,
      });
      for (const u of res.untagged) events.image('untag', u, u);
      for (const d of res.deleted.filter((x) => x.startsWith('sha256:'))) events.image('delete', d, d);
      return { untagged: res.untagged, deleted: res.deleted, spaceReclaimed: String(res.spaceReclaimed) };
    }),
    removeImage: h.unary('RemoveImage', async (req: supervisorV1.RemoveImageRequest) => {
      // dockerd's untag and delete events name the image by id
      const imageId = (await images.resolveImage(req.ref ?? '')).id;
      const res = await images.removeImage(req.ref ?? '', {
        force: req.force,
        noPrune: req.noPrune,
        isInUse,
      });
      for (let i = 0; i < res.untagged.length; i++) events.image('untag', imageId, imageId);
      if (res.deleted.length > 0) events.image('delete', imageId, imageId);
      return { untagged: res.untagged, deleted: res.deleted };
    }),
  };
}
