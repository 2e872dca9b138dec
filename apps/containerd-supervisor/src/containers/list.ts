import type { supervisorV1 } from '@drydock/proto';
import { isRunning, statusOf, type ContainerContext, type Entry } from './container-context';
import { containerFilter, type Filter, type FilterableContainer, type NetFilterView } from './filters';
import { humanDuration } from './human';
import { mountPoints } from './inspect';
import { nsToTimestamp } from './record';

/** docker ps: running (and restarting) containers, or all with -a; filters as dockerd applies them. */
export function listContainers(ctx: ContainerContext, req: supervisorV1.ListContainersRequest, net?: NetFilterView): supervisorV1.ContainerSummary[] {
  const wantsNet = (req.filters ?? []).some((f) => f.key === 'network' || f.key === 'publish' || f.key === 'expose');
  const views = new Map([...ctx.entries.values()].map((e) => [e.c.spec.id, { ...filterable(ctx, e), ...(net && wantsNet ? net(e.c.spec.id, isRunning(e)) : {}) }]));
  const pred = containerFilter((req.filters ?? []) as Filter[], (ref) => views.get(ctx.resolve(ref).c.spec.id)!);
  let rows = [...ctx.entries.values()]
    .filter((e) => req.all || isRunning(e) || (req.filters ?? []).length > 0 || e.c.state.restarting)
    .filter((e) => pred(views.get(e.c.spec.id)!))
    .sort((a, b) => (BigInt(b.c.spec.createdNs) > BigInt(a.c.spec.createdNs) ? 1 : -1));
  // `docker ps` without -a but with a status filter still only shows running unless the filter asks otherwise
  if (!req.all && (req.filters ?? []).length > 0 && !(req.filters ?? []).some((f) => f.key === 'status' || f.key === 'exited')) {
    rows = rows.filter((e) => isRunning(e) || e.c.state.restarting);
  }
  if (req.limit && req.limit > 0) rows = rows.slice(0, req.limit);
  return rows.map((e) => summary(ctx, e));
}

function filterable(ctx: ContainerContext, e: Entry): FilterableContainer {
  const mounts = e.c.spec.hostConfig.mounts ?? [];
  return {
    id: e.c.spec.id,
    name: e.c.name,
    image: e.c.spec.image,
    imageId: e.c.spec.imageId,
    labels: e.c.labels,
    status: statusOf(e),
    exitCode: e.c.state.exitCode,
    createdNs: BigInt(e.c.spec.createdNs),
    mountSources: mounts.map((m) => (m.type === 'volume' ? ctx.volumes.dataPath(m.source ?? '') : m.source ?? '')),
    mountDestinations: mounts.map((m) => m.target ?? ''),
    volumeNames: mounts.filter((m) => m.type === 'volume').map((m) => m.source ?? ''),
  };
}

function summary(ctx: ContainerContext, e: Entry): supervisorV1.ContainerSummary {
  const s = statusOf(e);
  const now = Date.now();
  const ms = (ns?: string) => (ns ? Number(BigInt(ns) / 1000000n) : now);
  let text: string;
  switch (s) {
    case 'running':
      text = `Up ${humanDuration(now - ms(e.c.state.startedAtNs))}`;
      break;
    case 'paused':
      text = `Up ${humanDuration(now - ms(e.c.state.startedAtNs))} (Paused)`;
      break;
    case 'restarting':
      text = `Restarting (${e.c.state.exitCode}) ${humanDuration(now - ms(e.c.state.finishedAtNs))} ago`;
      break;
    case 'exited':
      text = `Exited (${e.c.state.exitCode}) ${humanDuration(now - ms(e.c.state.finishedAtNs))} ago`;
      break;
    case 'removing':
      text = 'Removal In Progress';
      break;
    default:
      text = 'Created';
  }
  return {
    id: e.c.spec.id,
    name: e.c.name,
    image: e.c.spec.image,
    imageId: e.c.spec.imageId,
    command: [e.c.spec.path, ...e.c.spec.args].join(' '),
    created: nsToTimestamp(e.c.spec.createdNs),
    state: s,
    status: text,
    labels: e.c.labels,
    mounts: mountPoints(ctx, e),
    exitCode: e.c.state.exitCode,
    networkMode: e.c.spec.hostConfig.networkMode || 'default',
  };
}
