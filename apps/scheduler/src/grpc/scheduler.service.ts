import { InvalidArgumentError } from '@drydock/errors';
import type { schedulerV1 } from '@drydock/proto';
import type { NodeInfo } from '../cluster/node-view';
import type { PlaceInput, Placement } from '../cluster/placer';
import { nodeUsage } from '../placement/strategies';
import type { Handlers } from './handlers';

/** The domain calls this adapter needs. */
export interface SchedulerBackend {
  place(input: PlaceInput): Promise<Placement>;
  list(): NodeInfo[];
  drain(ref: string, drained: boolean): Promise<NodeInfo>;
}

/** int64 fields arrive as decimal strings (forceLong=string). */
function int64(v: string | undefined, field: string): number {
  const n = Number(v ?? '0');
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`invalid ${field} ${JSON.stringify(v)}: expected a non-negative integer`);
  return n;
}

export function nodeMessage(n: NodeInfo): schedulerV1.Node {
  const used = nodeUsage(n.node);
  return {
    id: n.node.id,
    name: n.node.name,
    supervisorAddress: n.node.supervisorAddress,
    status: n.status,
    drained: n.drained,
    labels: n.node.labels,
    cpus: n.node.cpus,
    memoryBytes: String(n.node.memoryBytes),
    reservedNanoCpus: String(used.nanoCpus),
    reservedMemoryBytes: String(used.memoryBytes),
    containers: n.node.containerCount,
    lastSeenMs: String(n.lastSeen),
  };
}

/** drydock.scheduler.v1.Scheduler over the placement domain: decode, call, encode. */
export function schedulerService(backend: SchedulerBackend, h: Handlers): schedulerV1.SchedulerServer {
  return {
    place: h.unary('Place', async (req: schedulerV1.PlaceRequest): Promise<schedulerV1.PlaceResponse> => {
      const p = await backend.place({
        requestId: req.requestId ?? '',
        name: req.name?.replace(/^\//, '') || undefined,
        image: req.image || undefined,
        env: req.env ?? [],
        labels: req.labels ?? {},
        memoryBytes: int64(req.memoryBytes, 'memory_bytes'),
        nanoCpus: int64(req.nanoCpus, 'nano_cpus'),
        ports: (req.portBindings ?? []).map((b) => ({ containerPort: b.containerPort ?? '', hostIp: b.hostIp ?? '', hostPort: b.hostPort ?? '' })),
        networkMode: req.networkMode ?? '',
        exposedPorts: req.exposedPorts ?? [],
        links: req.links ?? [],
        volumesFrom: req.volumesFrom ?? [],
      });
      return { nodeId: p.nodeId, nodeName: p.nodeName, supervisorAddress: p.supervisorAddress, env: p.env, labels: p.labels, rescheduleOnNodeFailure: p.rescheduleOnNodeFailure };
    }),
    listNodes: h.unary('ListNodes', async (): Promise<schedulerV1.ListNodesResponse> => ({ nodes: backend.list().map(nodeMessage) })),
    drainNode: h.unary('DrainNode', async (req: schedulerV1.DrainNodeRequest): Promise<schedulerV1.DrainNodeResponse> => {
      if (!req.node) throw new InvalidArgumentError('node is required');
      return { node: nodeMessage(await backend.drain(req.node, req.drain ?? false)) };
    }),
  };
}
