import { Metadata } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError } from '@drydock/errors';
import { relayProgress } from '../images/progress-relay';
import { boolParam, FilterArgs } from '../http/query';
import type { Ctx, Router } from '../http/router';
import { headerValue } from '../registry/http-input';
import { PLUGIN_CALL_TIMEOUT_MS } from '../backend/supervisor-client';
import type { RouteDeps } from './deps';

/** The privileges step resolves a manifest and a config; the supervisor bounds each registry call. */
const DISTRIBUTION_TIMEOUT_MS = 60 * 60_000;
/** POST /plugins/create: the tar goes to the supervisor in one message (its receive limit is 16 MiB). */
const MAX_CREATE_TAR_BYTES = 15 * 1024 * 1024;

/** `/plugins/{name}/{verb}` with a name that holds slashes and a colon (`localhost:5000/x/p:latest`). */
function splitPath(rest: string, verbs: readonly string[]): { name: string; verb: string } {
  const i = rest.lastIndexOf('/');
  const verb = i >= 0 ? rest.slice(i + 1) : '';
  if (i <= 0 || !verbs.includes(verb)) throw new NotFoundError('page not found');
  return { name: decodeURIComponent(rest.slice(0, i)), verb };
}

async function readBody(ctx: Ctx, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of ctx.req) {
    n += (c as Buffer).length;
    if (n > max) throw new InvalidArgumentError(`request body is larger than ${max} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/** dockerd's privileges body: a JSON array (or nothing); passed on as text, the supervisor decodes it. */
async function privilegesBody(ctx: Ctx): Promise<string> {
  const raw = (await readBody(ctx, 1024 * 1024)).toString('utf8').trim();
  if (raw === '') return '[]';
  try {
    JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('failed to parse privileges');
  }
  return raw;
}

/** dockerd's getName: the local name, `:latest` added to a bare name; digests are refused. */
function localName(remote: string, alias: string): string {
  const n = alias || remote;
  if (n.includes('@')) {
    if (alias) throw new InvalidArgumentError('cannot use digest in plugin tag');
    return `${n.slice(0, n.indexOf('@'))}:latest`;
  }
  const last = n.slice(n.lastIndexOf('/') + 1);
  return last.includes(':') ? n : `${n}:latest`;
}

/**
 * /plugins: the node's managed plugins (Docker Engine API 1.41's plugin router). Plugins come
 * from the supervisor as dockerd's types.Plugin JSON and are answered as is.
 */
export function registerPluginRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  const sc = () => deps.nodes.local();

  router.on('GET', '/plugins', async (ctx) => {
    const f = FilterArgs.fromJson(ctx.query.get('filters'));
    const s = sc();
    const res = await s.call(s.plugins, s.plugins.listPlugins, { filters: f.toProto() });
    ctx.send(200, JSON.parse(res.pluginsJson || '[]'));
  });

  router.on('GET', '/plugins/privileges', async (ctx) => {
    const s = sc();
    const res = await s.call(s.plugins, s.plugins.pluginPrivileges, { remote: ctx.query.get('remote') ?? '', registryAuth: headerValue(ctx.req, 'x-registry-auth') ?? '' }, DISTRIBUTION_TIMEOUT_MS);
    ctx.send(200, JSON.parse(res.privilegesJson || '[]'));
  });

  router.on('POST', '/plugins/pull', async (ctx) => {
    const remote = ctx.query.get('remote') ?? '';
    const name = localName(remote, ctx.query.get('name') ?? '');
    const privilegesJson = await privilegesBody(ctx);
    const s = sc();
    // dockerd sets it before pulling: the client enables the plugin under this name afterwards
    ctx.res.setHeader('Docker-Plugin-Name', name);
    await relayProgress(ctx, s.plugins.pullPlugin({ remote, name, privilegesJson, registryAuth: headerValue(ctx.req, 'x-registry-auth') ?? '' }, new Metadata()));
  });

  router.on('POST', '/plugins/create', async (ctx) => {
    const name = ctx.query.get('name') ?? '';
    if (!name) throw new InvalidArgumentError('failed to parse reference : repository name must have at least one component');
    const tar = await readBody(ctx, MAX_CREATE_TAR_BYTES);
    const s = sc();
    await s.call(s.plugins, s.plugins.createPlugin, { name, tar }, 10 * 60_000);
    ctx.empty(204);
  });

  router.on('GET', '/plugins/*', async (ctx) => {
    const { name } = splitPath(ctx.params['*'] ?? '', ['json']);
    const s = sc();
    const res = await s.call(s.plugins, s.plugins.inspectPlugin, { name });
    ctx.send(200, JSON.parse(res.pluginJson ?? '{}'));
  });

  router.on('POST', '/plugins/*', async (ctx) => {
    const { name, verb } = splitPath(ctx.params['*'] ?? '', ['enable', 'disable', 'set', 'upgrade', 'push']);
    const s = sc();
    switch (verb) {
      case 'enable': {
        const t = ctx.query.get('timeout') ?? '0';
        // dockerd: strconv.Atoi of the form value
        if (!/^[+-]?\d+$/.test(t)) throw new InvalidArgumentError(`strconv.Atoi: parsing "${t}": invalid syntax`);
        await s.call(s.plugins, s.plugins.enablePlugin, { name }, PLUGIN_CALL_TIMEOUT_MS);
        return ctx.empty(200);
      }
      case 'disable':
        await s.call(s.plugins, s.plugins.disablePlugin, { name, force: boolParam(ctx.query, 'force') }, PLUGIN_CALL_TIMEOUT_MS);
        return ctx.empty(200);
      case 'set': {
        const raw = (await readBody(ctx, 1024 * 1024)).toString('utf8');
        let args: unknown;
        try {
          args = JSON.parse(raw || '[]');
        } catch {
          throw new InvalidArgumentError('invalid character in request body: expected a JSON array of strings');
        }
        if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new InvalidArgumentError('request body must be a JSON array of strings');
        await s.call(s.plugins, s.plugins.setPlugin, { name, args: args as string[] });
        return ctx.empty(204);
      }
      case 'upgrade': {
        const remote = ctx.query.get('remote') ?? '';
        const privilegesJson = await privilegesBody(ctx);
        ctx.res.setHeader('Docker-Plugin-Name', name);
        return relayProgress(ctx, s.plugins.upgradePlugin({ name, remote, privilegesJson, registryAuth: headerValue(ctx.req, 'x-registry-auth') ?? '' }, new Metadata()));
      }
      default:
        return relayProgress(ctx, s.plugins.pushPlugin({ name, registryAuth: headerValue(ctx.req, 'x-registry-auth') ?? '' }, new Metadata()));
    }
  });

  router.on('DELETE', '/plugins/*', async (ctx) => {
    const name = decodeURIComponent(ctx.params['*'] ?? '');
    const s = sc();
    await s.call(s.plugins, s.plugins.removePlugin, { name, force: boolParam(ctx.query, 'force') }, PLUGIN_CALL_TIMEOUT_MS);
    ctx.empty(200);
  });
}
