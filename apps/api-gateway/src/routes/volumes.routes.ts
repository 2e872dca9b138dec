import { bodies } from '../docker/request-bodies';
import { boolParam, FilterArgs } from '../http/query';
import { toDockerVolume } from '../images/image-json';
import type { Router } from '../http/router';
import { PLUGIN_CALL_TIMEOUT_MS } from '../backend/supervisor-client';
import type { RouteDeps } from './deps';

/**
 * /volumes: the node's named volumes, local and volume plugins' (the supervisor merges them and
 * bounds how long `ls` waits for plugins; calls on one plugin volume wait for its plugin).
 */
export function registerVolumeRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const sc = () => deps.nodes.local();

  router.on('GET', '/volumes', async (ctx) => {
    const s = sc();
    const res = await s.call(s.volumes, s.volumes.listVolumes, { filters: FilterArgs.fromJson(ctx.query.get('filters')).toProto() });
    ctx.send(200, { Volumes: (res.volumes ?? []).map((v) => toDockerVolume(v)), Warnings: res.warnings && res.warnings.length > 0 ? res.warnings : null });
  });

  router.on('POST', '/volumes/create', async (ctx) => {
    // JSON null is an empty request: an anonymous volume, as dockerd makes
    const body = (await ctx.json(bodies.volumeCreate)) ?? {};
    const s = sc();
    const res = await s.call(s.volumes, s.volumes.createVolume, { name: body.Name ?? '', driver: body.Driver ?? '', driverOpts: { ...body.DriverOpts }, labels: { ...body.Labels } }, PLUGIN_CALL_TIMEOUT_MS);
    ctx.send(201, toDockerVolume(res.volume));
  });

  router.on('POST', '/volumes/prune', async (ctx) => {
    const s = sc();
    const res = await s.call(s.volumes, s.volumes.pruneVolumes, { filters: FilterArgs.fromJson(ctx.query.get('filters')).toProto() }, 10 * 60_000);
    ctx.send(200, { VolumesDeleted: res.deleted && res.deleted.length > 0 ? res.deleted : null, SpaceReclaimed: Number(res.spaceReclaimed ?? 0) });
  });

  router.on('GET', '/volumes/:name', async (ctx) => {
    const s = sc();
    const res = await s.call(s.volumes, s.volumes.inspectVolume, { name: ctx.params.name }, PLUGIN_CALL_TIMEOUT_MS);
    ctx.send(200, toDockerVolume(res.volume));
  });

  router.on('DELETE', '/volumes/:name', async (ctx) => {
    const s = sc();
    await s.call(s.volumes, s.volumes.removeVolume, { name: ctx.params.name, force: boolParam(ctx.query, 'force') }, PLUGIN_CALL_TIMEOUT_MS);
    ctx.empty(204);
  });
}
