import type { ClientWritableStream } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { fromGrpcError, InvalidArgumentError, NotImplementedError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import type { SupervisorClient } from '../backend/supervisor-client';
import { containerSummaryJson } from '../docker/container-json';
import { dockerStorageDriver } from '../docker/storage-driver';
import { boolParam, FilterArgs } from '../http/query';
import { decodeBody } from '../http/go-json';
import { bodies } from '../docker/request-bodies';
import { pumpBody } from '../http/upload';
import { toDeleteItems, toDockerVolume, toHistory, toImageInspect, toImageSummary, unixSeconds } from '../images/image-json';
import { hasTagOrDigest, joinReference, parseImagePath } from '../images/image-path';
import { checkPlatformSpecifier } from '../images/platform';
import { relayProgress } from '../images/progress-relay';
import { pushRegistryAuth } from '../registry/auth-config';
import { headerValue, readSmallBody } from '../registry/http-input';
import type { Ctx, Router } from '../http/router';
import type { RouteDeps } from './deps';
import { exportImages } from './image-archive.routes';

/** GraphDriver.Name in image inspect: the supervisor's overlayfs snapshotter under dockerd's name. */
const GRAPH_DRIVER = dockerStorageDriver('overlayfs');

/**
 * /images/* and /system/df. Image names contain "/" and ":", so everything
 * under /images/ that is not a fixed path goes to one wildcard route per
 * method, which routes on the trailing verb (see parseImagePath).
 * Pull and push relay the supervisor's progress stream (images/progress.ts).
 */
export function registerImageRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const sc = () => deps.nodes.local();

  router.on('GET', '/images/json', async (ctx) => {
    const s = sc();
    const res = await s.call(s.images, s.images.listImages, { all: boolParam(ctx.query, 'all'), filters: FilterArgs.fromJson(ctx.query.get('filters')).toProto() });
    ctx.send(200, (res.images ?? []).map((i) => toImageSummary(i)));
  });

  router.on('POST', '/images/create', async (ctx) => {
    const fromSrc = ctx.query.get('fromSrc');
    const fromImage = ctx.query.get('fromImage');
    if (fromSrc === '-') return importImage(ctx, sc());
    if (fromSrc) throw new NotImplementedError(`importing from a URL is not supported yet by this Drydock node: ${fromSrc}`);
    if (fromImage) return pullImage(ctx, sc(), fromImage);
    throw new InvalidArgumentError('either fromImage or fromSrc must be given');
  });

  router.on('POST', '/images/prune', async (ctx) => {
    const s = sc();
    const res = await s.call(s.images, s.images.pruneImages, { filters: FilterArgs.fromJson(ctx.query.get('filters')).toProto() }, 10 * 60_000);
    const items = toDeleteItems(res.untagged, res.deleted);
    ctx.send(200, { ImagesDeleted: items.length > 0 ? items : null, SpaceReclaimed: Number(res.spaceReclaimed ?? 0) });
  });

  router.on(['GET', 'HEAD'], '/images/*', async (ctx) => {
    const { name, verb } = parseImagePath(ctx.req.method ?? 'GET', ctx.params['*'] ?? '');
    const s = sc();
    if (verb === 'json') {
      const res = await s.call(s.images, s.images.inspectImage, { ref: name });
      ctx.send(200, toImageInspect(res, GRAPH_DRIVER));
    } else if (verb === 'history') {
      const res = await s.call(s.images, s.images.imageHistory, { ref: name });
      ctx.send(200, toHistory(res.rows ?? []));
    } else {
      // GET /images/{name}/get: docker save of one image
      await exportImages(ctx, s, [name]);
    }
  });

  router.on('POST', '/images/*', async (ctx) => {
    const { name, verb } = parseImagePath('POST', ctx.params['*'] ?? '');
    if (verb === 'push') return pushImage(ctx, sc(), name);
    const s = sc();
    await s.call(s.images, s.images.tagImage, { source: name, repository: ctx.query.get('repo') ?? '', tag: ctx.query.get('tag') ?? '' });
    ctx.empty(201);
  });

  router.on('DELETE', '/images/*', async (ctx) => {
    const { name } = parseImagePath('DELETE', ctx.params['*'] ?? '');
    const s = sc();
    const res = await s.call(s.images, s.images.removeImage, { ref: name, force: boolParam(ctx.query, 'force'), noPrune: boolParam(ctx.query, 'noprune') });
    ctx.send(200, toDeleteItems(res.untagged, res.deleted));
  });

  // docker commit (dockerd serves it from its image router): 201 {"Id"} once the image exists.
  router.on('POST', '/commit', async (ctx) => {
    const raw = await ctx.rawBody();
    const body = raw.toString('utf8').trim() === '' ? undefined : decodeBody(bodies.commit, raw);
    const q = ctx.query;
    // dockerd pauses by default from API 1.13 on; pause=0 turns it off
    const pause = q.get('pause') === null || q.get('pause') === '' ? true : boolParam(q, 'pause');
    // the image is made on the container's node
    const s = q.get('container') ? await deps.nodes.forContainer(q.get('container')!) : sc();
    const res = await new Promise<supervisorV1.CommitImageResponse>((resolve, reject) => {
      const call = s.images.commitImage(new Metadata(), { deadline: Date.now() + 60 * 60_000 }, (err, r) => (err ? reject(fromGrpcError(err)) : resolve(r)));
      call.write({
        header: {
          containerId: q.get('container') ?? '',
          repository: q.get('repo') ?? '',
          tag: q.get('tag') ?? '',
          comment: q.get('comment') ?? '',
          author: q.get('author') ?? '',
          pause,
          changes: q.getAll('changes'),
          configJson: body ? Buffer.from(JSON.stringify(body)) : Buffer.alloc(0),
        },
      });
      call.end();
    });
    ctx.send(201, { Id: res.id ?? '' });
  });

  router.on('GET', '/system/df', async (ctx) => {
    ctx.send(200, await diskUsage(sc()));
  });
}

/**
 * docker import: the request body is the tar. dockerd answers only once the
 * import is done, so failures are still plain HTTP errors; success is one
 * progress message carrying the id, which `docker import` prints.
 */
async function importImage(ctx: Ctx, s: SupervisorClient): Promise<void> {
  const header: supervisorV1.ImportHeader = {
    repository: ctx.query.get('repo') ?? '',
    tag: ctx.query.get('tag') ?? '',
    changes: ctx.query.getAll('changes').filter((c) => c !== ''),
    message: ctx.query.get('message') ?? '',
    platform: ctx.query.get('platform') ?? '',
  };
  let call!: ClientWritableStream<supervisorV1.ImportImageRequest>;
  const done = new Promise<supervisorV1.ImportImageResponse>((resolve, reject) => {
    // no deadline: an import takes as long as the upload; the client's disconnect cancels it
    call = s.images.importImage(new Metadata(), {}, (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res)));
  });
  done.catch(() => undefined);
  const cancel = () => call.cancel();
  ctx.signal.addEventListener('abort', cancel, { once: true });
  try {
    call.write({ header });
    await pumpBody(ctx.req, call, done, 'stop');
    call.end();
    const res = await done;
    const body = JSON.stringify({ status: res.id ?? '' }) + '\r\n';
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.end(body);
  } finally {
    ctx.signal.removeEventListener('abort', cancel);
  }
}

/**
 * docker pull (POST /images/create?fromImage&tag[&platform]): the supervisor
 * pulls through the registry-proxy; X-Registry-Auth goes along as the client
 * sent it. Errors before the first progress message are plain HTTP errors.
 */
async function pullImage(ctx: Ctx, s: SupervisorClient, fromImage: string): Promise<void> {
  // "pull -a" may send a trailing ":" (dockerd trims it too)
  const image = fromImage.replace(/:$/, '');
  const tag = ctx.query.get('tag') ?? '';
  const ref = joinReference(image, tag);
  // dockerd 20.10: a name-only reference with an empty tag pulls every tag (`docker pull --all-tags`).
  const allTags = !tag && !hasTagOrDigest(image);
  const platform = ctx.query.get('platform') ?? '';
  if (platform) checkPlatformSpecifier(platform);
  const call = s.images.pullImage({ ref, platform, registryAuth: headerValue(ctx.req, 'x-registry-auth') ?? '', allTags }, new Metadata());
  await relayProgress(ctx, call);
}

/**
 * docker push (POST /images/{name}/push?tag): one tag, or every tag of the
 * repository without one. dockerd insists on credentials (the header, or an
 * AuthConfig body from old clients).
 */
async function pushImage(ctx: Ctx, s: SupervisorClient, name: string): Promise<void> {
  const registryAuth = pushRegistryAuth(headerValue(ctx.req, 'x-registry-auth'), await readSmallBody(ctx.req));
  const tag = ctx.query.get('tag') ?? '';
  const call = s.images.pushImage({ ref: tag ? `${name}:${tag}` : name, registryAuth }, new Metadata());
  await relayProgress(ctx, call);
}

/** types.DiskUsage of API 1.41 from the node's usage plus the image, container and volume listings. */
async function diskUsage(s: SupervisorClient): Promise<Record<string, unknown>> {
  const [du, images, containers, volumes, cache] = await Promise.all([
    s.call(s.node, s.node.getDiskUsage, {}, 5 * 60_000),
    // dockerd's df lists images as `docker images` does: intermediate build images are Build Cache
    s.call(s.images, s.images.listImages, { all: false, filters: [] }),
    s.call(s.containers, s.containers.listContainers, { all: true, limit: 0, filters: [] }),
    s.call(s.volumes, s.volumes.listVolumes, { filters: [] }),
    s.call(s.images, s.images.buildCache, {}, 5 * 60_000),
  ]);
  const imageUsage = new Map((du.images ?? []).map((u) => [u.id ?? '', u]));
  const containerUsage = new Map((du.containers ?? []).map((u) => [u.id ?? '', u]));
  const volumeUsage = new Map((du.volumes ?? []).map((v) => [v.name ?? '', v]));
  const imageSize = new Map((images.images ?? []).map((i) => [i.id ?? '', Number(i.size ?? 0)]));
  return {
    LayersSize: Number(du.layersSize ?? 0),
    Images: (images.images ?? []).map((i) => {
      const u = imageUsage.get(i.id ?? '');
      return toImageSummary(i, { sharedSize: Number(u?.sharedSize ?? 0), containers: u?.containers ?? i.containers ?? 0 });
    }),
    Containers: (containers.containers ?? []).map((c) => {
      const sizeRw = Number(containerUsage.get(c.id ?? '')?.sizeRw ?? 0);
      return containerSummaryJson(c, { sizeRw, sizeRootFs: sizeRw + (imageSize.get(c.imageId ?? '') ?? 0) });
    }),
    Volumes: (volumes.volumes ?? []).map((v) => {
      const u = volumeUsage.get(v.name ?? '');
      return toDockerVolume({ ...v, refCount: u?.refCount ?? v.refCount, size: u?.size ?? v.size }, true);
    }),
    BuildCache: (cache.records ?? []).map(buildCacheJson),
  };
}

/** types.BuildCache of API 1.41 for a legacy cache record (an intermediate build image). */
export function buildCacheJson(r: supervisorV1.BuildCacheRecord): Record<string, unknown> {
  const created = r.created?.seconds ? new Date(Number(r.created.seconds) * 1000).toISOString() : '0001-01-01T00:00:00Z';
  return {
    ID: (r.id ?? '').replace(/^sha256:/, ''),
    Parent: (r.parent ?? '').replace(/^sha256:/, ''),
    Type: 'regular',
    Description: r.description ?? '',
    InUse: !!r.inUse,
    Shared: !!r.shared,
    Size: Number(r.size ?? 0),
    CreatedAt: created,
    LastUsedAt: created,
    UsageCount: 0,
  };
}
