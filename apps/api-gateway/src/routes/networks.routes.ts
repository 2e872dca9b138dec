import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '@drydock/errors';
import { decodeBody, type JsonBody } from '../http/go-json';
import { FilterArgs } from '../http/query';
import { compareVersions, type Ctx, type Router } from '../http/router';
import { networkJson } from '../docker/network-json';
import { checkNetworkListFilters, isPredefinedNetworkName, checkNetworkPruneFilters, parseNetworkConnect, parseNetworkCreate, parseNetworkDisconnect, parseNetworkInspectQuery } from '../docker/network-request';
import { bodies } from '../docker/request-bodies';
import type { RouteDeps } from './deps';

/**
 * /networks: the node's container networks. Thin: decode and check the request, call the
 * node's supervisor (which resolves names, ids and prefixes and answers with dockerd's
 * texts), convert the answer. Local networks live on the local node; overlay networks are
 * the cluster's, mirrored on every node, so the local node answers for them too.
 */
export function registerNetworkRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const sc = () => deps.nodes.local();

  router.on('GET', '/networks', async (ctx) => {
    const filters = FilterArgs.fromJson(ctx.query.get('filters'));
    checkNetworkListFilters(filters);
    const s = sc();
    const res = await s.call(s.networks, s.networks.listNetworks, { filters: filters.toProto() });
    // API >= 1.28 lists networks without their endpoints (network_routes.go getNetworksList)
    const withContainers = compareVersions(ctx.apiVersion, '1.28') < 0;
    ctx.send(200, (res.networks ?? []).map((n) => networkJson(n, withContainers)));
  });

  router.on('POST', '/networks/create', async (ctx) => {
    const body = await jsonBody(ctx, bodies.networkCreate);
    const s = sc();
    let req: ReturnType<typeof parseNetworkCreate>;
    try {
      req = parseNetworkCreate(body);
    } catch (err) {
      // dockerd looks for the name right after the predefined-name check, before the IPAM
      // config is parsed: a taken name wins over bad input (asked only when there is some)
      const name = body?.Name ?? '';
      if (name && !isPredefinedNetworkName(name)) {
        const found = await s.call(s.networks, s.networks.inspectNetwork, { id: name, verbose: false, scope: '' }).catch(() => undefined);
        if (found?.network?.name === name) throw new AlreadyExistsError(`network with name ${name} already exists`);
      }
      throw err;
    }
    const res = await s.call(s.networks, s.networks.createNetwork, req);
    ctx.send(201, { Id: res.id ?? '', Warning: res.warning ?? '' });
  });

  router.on('POST', '/networks/prune', async (ctx) => {
    const filters = FilterArgs.fromJson(ctx.query.get('filters'));
    checkNetworkPruneFilters(filters, Date.now());
    const s = sc();
    const res = await s.call(s.networks, s.networks.pruneNetworks, { filters: filters.toProto() }, 10 * 60_000);
    // dockerd 20.10 sends null (not []) when nothing was deleted
    ctx.send(200, { NetworksDeleted: res.deleted && res.deleted.length > 0 ? res.deleted : null });
  });

  router.on('GET', '/networks/:id', async (ctx) => {
    const s = sc();
    const q = parseNetworkInspectQuery(ctx.params.id, ctx.query);
    const res = await s.call(s.networks, s.networks.inspectNetwork, q);
    if (q.scope && (res.network?.scope || 'local') !== q.scope) throw new NotFoundError(`network ${ctx.params.id} not found`);
    ctx.send(200, networkJson(res.network ?? {}));
  });

  router.on('DELETE', '/networks/:id', async (ctx) => {
    const s = sc();
    await s.call(s.networks, s.networks.removeNetwork, { id: ctx.params.id });
    ctx.empty(204);
  });

  router.on('POST', '/networks/:id/connect', async (ctx) => {
    const req = parseNetworkConnect(ctx.params.id, await jsonBody(ctx, bodies.networkConnect));
    // networks are node-scoped: the container's node (in a cluster, maybe not this one) holds the endpoint
    const s = await deps.nodes.forContainer(req.container ?? '');
    await s.call(s.networks, s.networks.connectNetwork, req);
    ctx.empty(200);
  });

  router.on('POST', '/networks/:id/disconnect', async (ctx) => {
    const req = parseNetworkDisconnect(ctx.params.id, await jsonBody(ctx, bodies.networkDisconnect));
    // networks are node-scoped: the container's node (in a cluster, maybe not this one) holds the endpoint
    const s = await deps.nodes.forContainer(req.container ?? '');
    await s.call(s.networks, s.networks.disconnectNetwork, req);
    ctx.empty(200);
  });
}

/** httputils.CheckForJSON, then the body: without Content-Type only an empty body passes. */
async function jsonBody<T>(ctx: Ctx, body: JsonBody<T>): Promise<T | undefined> {
  const raw = await ctx.rawBody();
  const ct = ctx.req.headers['content-type'] ?? '';
  if (!(ct === '' && raw.length === 0) && ct.split(';')[0].trim().toLowerCase() !== 'application/json') {
    throw new InvalidArgumentError(`Content-Type specified (${ct}) must be 'application/json'`);
  }
  return decodeBody(body, raw);
}
