import { mkdir } from 'node:fs/promises';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { errorCode, fromGrpcError, InvalidArgumentError } from '@drydock/errors';
import { PLUGIN_CALL_TIMEOUT_MS, type ContainerLocator, type NodeSummary, type SupervisorClient } from '../backend/supervisor-client';
import type { Ctx, Router } from '../http/router';
import { parseCreateBody } from '../docker/container-create';
import { createOn } from '../cluster/placement';
import { containerJson, containerSummaryJson, type SummarySizes } from '../docker/container-json';
import { parseUpdateBody } from '../docker/container-update';
import { parseFilterTime } from '../docker/filters';
import { writeDrained } from '../http/drain';
import { pumpBody } from '../http/upload';
import { decodeBody } from '../http/go-json';
import { FilterArgs } from '../http/query';
import { boolQuery, intQuery } from '../docker/json-types';
import { bodies } from '../docker/request-bodies';
import { checkKillSignal } from '../docker/request-checks';
import { statsJson } from '../docker/stats';
import { unixNanos } from '../docker/time';
import type { RouteDeps } from './deps';

const S = supervisorV1;

/**
 * dockerd ignores a start body of 7 bytes or fewer ("A non-nil json object is at least 7
 * characters") and refuses a longer one: the HostConfig-on-start of API < 1.24.
 */
const MAX_IGNORED_START_BODY = 7;

/** Filters `docker container prune` accepts; the rest are dockerd's 400. */
const PRUNE_FILTERS = new Set(['until', 'label', 'label!']);

/**
 * /containers/*: lifecycle, inspection, stats and file access. Thin: parse the
 * Docker request, call the owning node's supervisor, convert the answer. Errors
 * from the supervisor already carry Docker's words and pass through unchanged.
 */
export function registerContainerRoutes(router: Router, deps: Pick<RouteDeps, 'nodes' | 'placement'>): void {
  const nodes = deps.nodes;
  const owner = (ctx: Ctx) => nodes.forContainer(ctx.params.id);

  // ---------------------------------------------------------------- create / list / prune

  router.on('POST', '/containers/create', async (ctx) => {
    const ct = ctx.req.headers['content-type'];
    const raw = await ctx.rawBody();
    if (raw.toString('latin1').trim() && ct && !/^application\/json\b/i.test(ct.split(';')[0].trim())) {
      throw new InvalidArgumentError(`unsupported Content-Type header (${ct}): must be 'application/json'`);
    }
    // dockerd answers syntax and type errors here with 500 (the client's fault all the same): 400
    const body = decodeBody(bodies.containerCreate, raw);
    const parsed = parseCreateBody(ctx.query.get('name') ?? '', body);
    // dockerd creates a missing host directory for `-v /src:/dst` (not for --mount type=bind).
    // The gateway and the supervisor share the node's filesystem in the single-node stack;
    // with remote nodes this belongs to the supervisor.
    for (const dir of parsed.bindSources) await mkdir(dir, { recursive: true });
    const sc = nodes.local();
    // in a cluster, on the node placement chose (this one unless the request asked otherwise); a volume
    // plugin's Create may take its full deadline
    const res = deps.placement
      ? await createOn(await deps.placement.target(parsed.request), sc)
      : await sc.call(sc.containers, sc.containers.createContainer, parsed.request, PLUGIN_CALL_TIMEOUT_MS);
    ctx.send(201, { Id: res.id ?? '', Warnings: [...(res.warnings ?? []), ...parsed.warnings] });
  });

  router.on('GET', '/containers/json', async (ctx) => {
    const args = FilterArgs.fromJson(ctx.query.get('filters'));
    // classic Swarm's `node` filter (name or id, a value read as a regular expression as Swarm's
    // filters.Match did) picks the nodes asked; the supervisors never see it
    const nodeFilter = nodes.cluster ? args.get('node') : [];
    const filters = (nodes.cluster ? args.without('node') : args).toProto();
    const limit = intQuery(ctx.query, 'limit') ?? 0;
    const all = boolQuery(ctx.query, 'all') || limit > 0;
    const withSize = boolQuery(ctx.query, 'size');
    const perNode = await Promise.all(
      nodes.all().map(async (sc) => {
        if (nodeFilter.length > 0) {
          const node = await nodes.cluster!.nodeOf(sc);
          if (!node || !nodeFilter.some((v) => matchesNode(v, node))) return [];
        }
        try {
          const [list, sizes] = await Promise.all([
            sc.call(sc.containers, sc.containers.listContainers, { all, limit: limit > 0 ? limit : 0, filters }),
            withSize ? containerSizes(sc) : Promise.resolve(undefined),
          ]);
          return (list.containers ?? []).map((c) => ({ c, size: sizes?.(c) }));
        } catch (err) {
          // a remote node that stopped answering since its last beat leaves the listing, not fails it
          if (sc === nodes.local()) throw err;
          ctx.log.warn({ err, node: sc.address }, 'node left out of the container list');
          return [];
        }
      }),
    );
    let rows = perNode.flat().sort((a, b) => (unixNanos(b.c.created) > unixNanos(a.c.created) ? 1 : -1));
    if (limit > 0) rows = rows.slice(0, limit);
    ctx.send(200, rows.map(({ c, size }) => containerSummaryJson(c, size)));
  });

  router.on('POST', '/containers/prune', async (ctx) => {
    const args = FilterArgs.fromJson(ctx.query.get('filters'));
    for (const k of args.keys()) if (!PRUNE_FILTERS.has(k)) throw new InvalidArgumentError(`Invalid filter '${k}'`);
    const now = Date.now();
    const until = args.contains('until') ? args.get('until').map((v) => parseFilterTime(v, now)) : undefined;
    const notLabels = args.get('label!');
    const labels = args.contains('label') ? { key: 'label', values: args.get('label') } : undefined;
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const sc of nodes.all()) {
      const list = await sc.call(sc.containers, sc.containers.listContainers, {
        all: true,
        filters: [{ key: 'status', values: ['created', 'exited', 'dead'] }, ...(labels ? [labels] : [])],
      });
      const victims = (list.containers ?? []).filter((c) => {
        const createdMs = Number(unixNanos(c.created) / 1000000n);
        if (until && !until.every((t) => createdMs < t)) return false;
        return !notLabels.some((l) => labelMatches(c.labels ?? {}, l));
      });
      if (victims.length === 0) continue;
      const sizes = await containerSizes(sc).catch(() => undefined);
      for (const c of victims) {
        try {
          await sc.call(sc.containers, sc.containers.removeContainer, { id: c.id, force: false });
        } catch (err) {
          // started or removed meanwhile: dockerd's prune skips it too
          ctx.log.debug({ err, containerId: c.id }, 'prune skipped container');
          continue;
        }
        deleted.push(c.id ?? '');
        reclaimed += sizes?.(c).sizeRw ?? 0;
      }
    }
    // dockerd 20.10 sends null (not []) when nothing was deleted
    ctx.send(200, { ContainersDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed });
  });

  // ---------------------------------------------------------------- lifecycle

  router.on('POST', '/containers/:id/start', async (ctx) => {
    const raw = await ctx.rawBody();
    if (raw.length > MAX_IGNORED_START_BODY) {
      throw new InvalidArgumentError('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24');
    }
    const sc = await owner(ctx);
    const res = await sc.call(sc.containers, sc.containers.startContainer, { id: ctx.params.id }, PLUGIN_CALL_TIMEOUT_MS);
    ctx.empty(res.alreadyStarted ? 304 : 204);
  });

  router.on('POST', '/containers/:id/stop', async (ctx) => {
    const t = intQuery(ctx.query, 't');
    const sc = await owner(ctx);
    // the stop itself may take the whole grace period: the deadline covers it
    const res = await sc.call(sc.containers, sc.containers.stopContainer, { id: ctx.params.id, timeoutSeconds: t }, callTimeout(t));
    ctx.empty(res.alreadyStopped ? 304 : 204);
  });

  router.on('POST', '/containers/:id/restart', async (ctx) => {
    const t = intQuery(ctx.query, 't');
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.restartContainer, { id: ctx.params.id, timeoutSeconds: t }, callTimeout(t));
    ctx.empty(204);
  });

  router.on('POST', '/containers/:id/kill', async (ctx) => {
    const signal = ctx.query.get('signal') ?? '';
    checkKillSignal(ctx.params.id, signal);
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.killContainer, { id: ctx.params.id, signal });
    ctx.empty(204);
  });

  router.on('POST', '/containers/:id/pause', async (ctx) => {
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.pauseContainer, { id: ctx.params.id });
    ctx.empty(204);
  });

  router.on('POST', '/containers/:id/unpause', async (ctx) => {
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.resumeContainer, { id: ctx.params.id });
    ctx.empty(204);
  });

  router.on('POST', '/containers/:id/rename', async (ctx) => {
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.renameContainer, { id: ctx.params.id, newName: ctx.query.get('name') ?? '' });
    ctx.empty(204);
  });

  router.on('POST', '/containers/:id/update', async (ctx) => {
    const req = parseUpdateBody(ctx.params.id, await ctx.json(bodies.containerUpdate));
    const sc = await owner(ctx);
    const res = await sc.call(sc.containers, sc.containers.updateContainer, req);
    ctx.send(200, { Warnings: res.warnings ?? [] });
  });

  router.on('POST', '/containers/:id/resize', async (ctx) => {
    const h = intQuery(ctx.query, 'h') ?? 0;
    const w = intQuery(ctx.query, 'w') ?? 0;
    if (h < 0 || w < 0) throw new InvalidArgumentError('invalid terminal size');
    const sc = await owner(ctx);
    await sc.call(sc.containers, sc.containers.resizeContainerTty, { id: ctx.params.id, width: w, height: h });
    ctx.empty(200);
  });

  // dockerd's route is /containers/{name:.*}: a link's name (`docker rm -l /web/db`) has slashes
  const remove = async (ctx: Ctx, ref: string) => {
    const removeLink = boolQuery(ctx.query, 'link');
    // a link is its parent's: /<parent>/<alias>
    const holder = removeLink && ref.replace(/^\//, '').includes('/') ? ref.replace(/^\//, '').split('/').slice(0, -1).join('/') : ref;
    const sc = await nodes.forContainer(holder);
    await sc.call(sc.containers, sc.containers.removeContainer, { id: ref, force: boolQuery(ctx.query, 'force'), removeVolumes: boolQuery(ctx.query, 'v'), removeLink });
    ctx.empty(204);
  };
  router.on('DELETE', '/containers/:id', (ctx) => remove(ctx, ctx.params.id));
  router.on('DELETE', '/containers/*', (ctx) => remove(ctx, ctx.params['*']));

  router.on('POST', '/containers/:id/wait', (ctx) => waitContainer(ctx, nodes));

  // ---------------------------------------------------------------- inspection

  router.on('GET', '/containers/:id/json', async (ctx) => {
    const sc = await owner(ctx);
    const res = await sc.call(sc.containers, sc.containers.inspectContainer, { id: ctx.params.id });
    const body = containerJson(res.container ?? {});
    const node = await nodes.cluster?.nodeOf(sc);
    if (node) body.Node = swarmNode(node);
    if (boolQuery(ctx.query, 'size')) {
      const size = (await containerSizes(sc))(res.container ?? {});
      body.SizeRw = size.sizeRw;
      body.SizeRootFs = size.sizeRootFs;
    }
    ctx.send(200, body);
  });

  router.on('GET', '/containers/:id/top', async (ctx) => {
    const sc = await owner(ctx);
    const res = await sc.call(sc.containers, sc.containers.topContainer, { id: ctx.params.id, psArgs: ctx.query.get('ps_args') ?? '' });
    ctx.send(200, { Titles: res.titles ?? [], Processes: (res.processes ?? []).map((p) => p.values ?? []) });
  });

  router.on('GET', '/containers/:id/stats', (ctx) => stats(ctx, nodes));

  router.on('GET', '/containers/:id/changes', async (ctx) => {
    const sc = await owner(ctx);
    const res = await sc.call(sc.archives, sc.archives.containerChanges, { id: ctx.params.id });
    const changes = (res.changes ?? []).map((c) => ({ Path: c.path ?? '', Kind: c.kind ?? 0 }));
    ctx.send(200, changes.length > 0 ? changes : null);
  });

  // ---------------------------------------------------------------- files

  router.on('HEAD', '/containers/:id/archive', async (ctx) => {
    const path = archivePath(ctx);
    const sc = await owner(ctx);
    const res = await sc.call(sc.archives, sc.archives.statPath, { id: ctx.params.id, path });
    ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStatHeader(res.stat ?? {}), 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  });

  router.on('GET', '/containers/:id/archive', async (ctx) => {
    const path = archivePath(ctx);
    const sc = await owner(ctx);
    const call = sc.archives.getArchive({ id: ctx.params.id, path });
    let started = false;
    for await (const m of messages(call, ctx.signal)) {
      if (m.stat && !started) {
        started = true;
        ctx.res.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStatHeader(m.stat), 'Content-Type': 'application/x-tar' });
      } else if (m.chunk && m.chunk.length > 0) {
        if (!started) throw new Error('GetArchive sent data before the path stat');
        await writeDrained(ctx.res, m.chunk, ctx.signal);
      }
    }
    if (ctx.signal.aborted) return;
    if (!started) throw new Error('GetArchive ended without a path stat');
    ctx.res.end();
  });

  router.on('PUT', '/containers/:id/archive', async (ctx) => {
    const path = archivePath(ctx);
    const sc = await owner(ctx);
    await putArchive(ctx, sc, {
      id: ctx.params.id,
      path,
      noOverwriteDirNonDir: boolQuery(ctx.query, 'noOverwriteDirNonDir'),
      copyUidGid: boolQuery(ctx.query, 'copyUIDGID'),
    });
    ctx.empty(200);
  });

  router.on('GET', '/containers/:id/export', async (ctx) => {
    const sc = await owner(ctx);
    const call = sc.archives.exportContainer({ id: ctx.params.id });
    for await (const m of messages(call, ctx.signal)) {
      // headers wait for the first chunk so that a 404 still reaches the client as an error
      if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      if (m.data && m.data.length > 0) await writeDrained(ctx.res, m.data, ctx.signal);
    }
    if (ctx.signal.aborted) return;
    if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  });
}

// ---------------------------------------------------------------- wait

function waitCondition(v: string | null): supervisorV1.WaitCondition {
  switch (v ?? '') {
    case '':
    case 'not-running':
      return S.WaitCondition.WAIT_CONDITION_NOT_RUNNING;
    case 'next-exit':
      return S.WaitCondition.WAIT_CONDITION_NEXT_EXIT;
    case 'removed':
      return S.WaitCondition.WAIT_CONDITION_REMOVED;
    default:
      throw new InvalidArgumentError(`invalid condition: ${JSON.stringify(v)}`);
  }
}

/**
 * POST /containers/{id}/wait. `docker run` blocks on this response's HEADERS
 * before it calls start, so "200 OK" is flushed as soon as the supervisor says
 * the wait is registered (from then on the exit cannot be missed); the body
 * follows when the condition is met. Errors before that are plain HTTP errors.
 */
async function waitContainer(ctx: Ctx, nodes: ContainerLocator): Promise<void> {
  const condition = waitCondition(ctx.query.get('condition'));
  const sc = await nodes.forContainer(ctx.params.id);
  const call = sc.containers.waitContainer({ id: ctx.params.id, condition });
  const open = () => {
    if (ctx.res.headersSent) return;
    ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.flushHeaders();
  };
  try {
    for await (const m of messages(call, ctx.signal)) {
      if (m.phase === S.WaitPhase.WAIT_PHASE_REGISTERED) open();
      else if (m.phase === S.WaitPhase.WAIT_PHASE_EXITED) {
        open();
        ctx.res.end(JSON.stringify({ Error: m.error ? { Message: m.error } : null, StatusCode: m.statusCode ?? 0 }) + '\n');
        return;
      }
    }
  } catch (err) {
    if (!ctx.res.headersSent) throw err;
    // the status line is out: report like dockerd does when its wait fails midway
    const e = fromGrpcError(err);
    ctx.res.end(JSON.stringify({ Error: { Message: e.message }, StatusCode: -1 }) + '\n');
    return;
  }
  if (ctx.signal.aborted) return;
  if (!ctx.res.headersSent) throw new Error('WaitContainer ended without a result');
  ctx.res.end(JSON.stringify({ Error: { Message: 'wait ended without an exit status' }, StatusCode: -1 }) + '\n');
}

// ---------------------------------------------------------------- stats

/**
 * GET /containers/{id}/stats. stream=1: one JSON object per line and second until
 * the client leaves. stream=0: like dockerd, two samples a second apart so that
 * precpu_stats makes the CPU percentage meaningful (one-shot=1 skips the wait).
 */
async function stats(ctx: Ctx, nodes: ContainerLocator): Promise<void> {
  const stream = ctx.query.has('stream') ? boolQuery(ctx.query, 'stream') : true;
  const oneShot = boolQuery(ctx.query, 'one-shot');
  if (oneShot && stream) throw new InvalidArgumentError('cannot have stream=true and one-shot=true');
  const sc = await nodes.forContainer(ctx.params.id);
  const info = (await sc.call(sc.containers, sc.containers.inspectContainer, { id: ctx.params.id })).container ?? {};
  const id = info.id ?? ctx.params.id;
  const name = info.name ?? '';
  const call = sc.containers.containerStats({ id, stream: !oneShot });
  let prev: supervisorV1.ContainerStatsResponse | undefined;
  let last: supervisorV1.ContainerStatsResponse | undefined;
  for await (const cur of messages(call, ctx.signal)) {
    if (stream) {
      if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      await writeDrained(ctx.res, JSON.stringify(statsJson(id, name, cur, prev)) + '\n', ctx.signal);
      prev = cur;
      continue;
    }
    prev = last;
    last = cur;
    if (prev || oneShot) break;
  }
  if (ctx.signal.aborted) return;
  if (stream) {
    if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res.end();
    return;
  }
  if (!last) throw new Error('ContainerStats sent no sample');
  ctx.send(200, statsJson(id, name, last, prev));
}

// ---------------------------------------------------------------- archives

function archivePath(ctx: Ctx): string {
  const p = ctx.query.get('path') ?? '';
  if (!p) throw new InvalidArgumentError('bad parameter: path cannot be empty');
  return p;
}

/** X-Docker-Container-Path-Stat: base64 JSON of Docker's container.PathStat. */
export function pathStatHeader(s: supervisorV1.PathStat): string {
  const json = { name: s.name ?? '', size: Number(s.size ?? '0'), mode: s.mode ?? 0, mtime: s.mtime || '0001-01-01T00:00:00Z', linkTarget: s.linkTarget ?? '' };
  return Buffer.from(JSON.stringify(json)).toString('base64');
}

/** Streams the request body (a tar) into PutArchive with backpressure; resolves with the supervisor's answer. */
async function putArchive(ctx: Ctx, sc: SupervisorClient, header: supervisorV1.PutArchiveHeader): Promise<void> {
  let call!: ReturnType<supervisorV1.ArchivesClient['putArchive']>;
  const done = new Promise<void>((resolve, reject) => {
    call = sc.archives.putArchive((err) => (err ? reject(fromGrpcError(err)) : resolve()));
  });
  const onAbort = () => call.cancel();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    call.write({ header });
    // a failed extraction (path traversal, missing dir) ends the call early: stop pumping then
    await pumpBody(ctx.req, call, done, 'stop');
    call.end();
    await done;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

// ---------------------------------------------------------------- helpers

/** The messages of a server stream; errors become taxonomy errors, the client leaving cancels the call. */
async function* messages<T>(call: ClientReadableStream<T>, signal: AbortSignal): AsyncGenerator<T> {
  const onAbort = () => call.cancel();
  if (signal.aborted) call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const m of call) yield m as T;
  } catch (err) {
    if (signal.aborted) return;
    throw fromGrpcError(err);
  } finally {
    signal.removeEventListener('abort', onAbort);
    // stops the supervisor's work when the consumer stopped reading early (no-op after the end)
    call.cancel();
  }
}

/** A deadline for stop/restart that outlasts the grace period the user asked for. */
function callTimeout(t: number | undefined): number | undefined {
  // a restart's start may Mount plugin volumes
  return t !== undefined && t > 0 ? t * 1000 + PLUGIN_CALL_TIMEOUT_MS : PLUGIN_CALL_TIMEOUT_MS;
}

/** Classic Swarm's ContainerNode in inspect (`Node`), in its field order. */
function swarmNode(n: NodeSummary): Record<string, unknown> {
  return { ID: n.id, IP: n.ip, Addr: n.address, Name: n.name, Cpus: n.cpus, Memory: n.memoryBytes, Labels: n.labels };
}

/** A `node` filter value against a node: its name or id, exactly or as a regular expression (docker's old filters.Match). */
function matchesNode(v: string, n: NodeSummary): boolean {
  if (v === n.name || v === n.id) return true;
  try {
    return new RegExp(v).test(n.name);
  } catch {
    return false;
  }
}

function labelMatches(labels: Record<string, string>, v: string): boolean {
  const eq = v.indexOf('=');
  return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
}

/** Sizes for `ps -s` / prune from the node's disk usage (one call for all containers). */
async function containerSizes(sc: SupervisorClient): Promise<(c: { id?: string; imageId?: string }) => SummarySizes> {
  let du: supervisorV1.GetDiskUsageResponse;
  try {
    du = await sc.call(sc.node, sc.node.getDiskUsage, {});
  } catch (err) {
    // a node without disk accounting reports zeros rather than failing `ps -s`
    if (errorCode(err) !== 'NOT_IMPLEMENTED') throw err;
    du = {};
  }
  const rw = new Map((du.containers ?? []).map((c) => [c.id ?? '', Number(c.sizeRw ?? '0')]));
  const img = new Map((du.images ?? []).map((i) => [i.id ?? '', Number(i.size ?? '0')]));
  return (c) => {
    const sizeRw = rw.get(c.id ?? '') ?? 0;
    return { sizeRw, sizeRootFs: sizeRw + (img.get(c.imageId ?? '') ?? 0) };
  };
}

