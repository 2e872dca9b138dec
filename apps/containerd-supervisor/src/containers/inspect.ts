import type { supervisorV1 } from '@drydock/proto';
import { isRunning, statusOf, type ContainerContext, type Entry } from './container-context';
import { dockerLinks } from './links';
import { nsToTimestamp } from './record';

/** docker inspect. */
export function inspectContainer(ctx: ContainerContext, ref: string): supervisorV1.ContainerInfo {
  const e = ctx.resolve(ref);
  const s = statusOf(e);
  return {
    id: e.c.spec.id,
    name: e.c.name,
    created: nsToTimestamp(e.c.spec.createdNs),
    path: e.c.spec.path,
    args: e.c.spec.args,
    state: {
      status: s,
      // dockerd counts a container in its restart back-off as running (State.SetRestarting)
      running: s === 'running' || s === 'paused' || s === 'restarting',
      paused: s === 'paused',
      restarting: s === 'restarting',
      oomKilled: e.c.state.oomKilled,
      dead: false,
      // an exit being recorded keeps the run's pid until it is, as its status stays running
      pid: isRunning(e) || e.rt.task === 'stopped' ? e.rt.pid : 0,
      exitCode: e.c.state.exitCode,
      error: e.c.state.error,
      startedAt: nsToTimestamp(e.c.state.startedAtNs),
      finishedAt: nsToTimestamp(e.c.state.finishedAtNs),
    },
    imageId: e.c.spec.imageId,
    config: { ...e.c.spec.config, labels: e.c.labels },
    hostConfig: { ...e.c.spec.hostConfig, links: dockerLinks(ctx, e) },
    mounts: mountPoints(ctx, e),
    restartCount: e.c.state.restartCount,
    logPath: ctx.logPath(e.c.spec.id),
    nodeId: ctx.opts.nodeId,
    driver: 'overlayfs',
  };
}

/** Docker's Mounts of inspect and ps. */
export function mountPoints(ctx: ContainerContext, e: Entry): supervisorV1.MountPoint[] {
  return (e.c.spec.hostConfig.mounts ?? []).map((m) => ({
    type: m.type,
    name: m.type === 'volume' ? m.source : '',
    // a plugin volume's path is its Mount's answer, known to the plugin only while mounted
    source: m.type === 'volume' ? (m.driver && m.driver !== 'local' ? '' : ctx.volumes.dataPath(m.source ?? '')) : m.source ?? '',
    driver: m.type === 'volume' ? m.driver || 'local' : '',
    destination: m.target,
    // dockerd's registerMountPoints does not copy Mode into a --volumes-from copy
    mode: m.volumesFrom ? '' : m.type === 'bind' ? (m.readOnly ? 'ro' : '') : m.type === 'volume' ? 'z' : '',
    rw: !m.readOnly,
    propagation: m.type === 'bind' ? 'rprivate' : '',
  }));
}
