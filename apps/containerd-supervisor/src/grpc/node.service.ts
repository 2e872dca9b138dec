import { cpus, release, totalmem } from 'node:os';
import type { supervisorV1 } from '@drydock/proto';
import type { Handlers } from './handlers';
import type { DiskUsage } from '../node/disk-usage';
import type { HostFacts } from '../node/host-facts';
import { volumeMessage } from './volumes.service';

export interface NodeFacts {
  nodeId: string;
  name: string;
  labels: Record<string, string>;
  /** Read once at start (node/host-facts.ts). */
  host: HostFacts;
  /** The node's state directory (DRYDOCK_STATE_DIR). */
  rootDir: string;
  /** containerd snapshotter of container roots. */
  snapshotter: string;
  counts: () => { total: number; running: number; paused: number; stopped: number };
  imageCount: () => Promise<number>;
  /** docker system df (node/disk-usage.ts). */
  diskUsage: () => Promise<DiskUsage>;
}

/** Thin gRPC adapter describing this node (drydock.supervisor.v1.Node). */
export function nodeService(f: NodeFacts, h: Handlers): supervisorV1.NodeServer {
  return {
    getNodeInfo: h.unary('GetNodeInfo', async () => {
      const c = f.counts();
      const host = f.host;
      return {
        nodeId: f.nodeId,
        name: f.name,
        labels: f.labels,
        cpus: cpus().length,
        memoryBytes: String(totalmem()),
        containers: c.total,
        containersRunning: c.running,
        containersPaused: c.paused,
        containersStopped: c.stopped,
        images: await f.imageCount(),
        containerdVersion: host.containerd.version,
        containerdRevision: host.containerd.revision,
        runcVersion: host.runc.version,
        runcCommit: host.runc.commit,
        kernelVersion: release(),
        operatingSystem: host.os.name,
        osVersion: host.os.version,
        cgroupVersion: host.cgroupVersion,
        // container cgroups are paths under the cgroup parent, not systemd units
        cgroupDriver: 'cgroupfs',
        rootDir: f.rootDir,
        snapshotter: f.snapshotter,
        driverStatus: host.driverStatus.map(([key, value]) => ({ key, value })),
        capabilities: host.capabilities,
      };
    }),
    getDiskUsage: h.unary('GetDiskUsage', async () => {
      const du = await f.diskUsage();
      return {
        layersSize: String(du.layersSize),
        images: du.images.map((i) => ({ id: i.id, size: String(i.size), sharedSize: String(i.sharedSize), containers: i.containers })),
        containers: du.containers.map((c) => ({ id: c.id, sizeRw: String(c.sizeRw) })),
        volumes: du.volumes.map((v) => volumeMessage(v.volume, v.refCount, v.size)),
      };
    }),
  };
}
