import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import type { ContainerUpdateBody } from './request-bodies';
import { int32Of } from './request-checks';

/** Resources this node cannot change on a live container; non-zero values are refused, not dropped. */
const UNSUPPORTED = ['BlkioWeight', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'PidsLimit', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'] as const;

/**
 * POST /containers/{id}/update body (decoded, request-bodies.ts) -> UpdateContainerRequest.
 * The CLI sends the whole Resources struct with zeros for what the user did not set;
 * dockerd applies only non-zero values (and a RestartPolicy with a Name), so zeros map
 * to "unset" here.
 */
export function parseUpdateBody(id: string, b: ContainerUpdateBody | undefined): supervisorV1.UpdateContainerRequest {
  if (b === undefined) return { id };
  const nz = (v: bigint | undefined) => (v === undefined || v === 0n ? undefined : String(v));
  const req: supervisorV1.UpdateContainerRequest = {
    id,
    memory: nz(b.Memory),
    memorySwap: nz(b.MemorySwap),
    nanoCpus: nz(b.NanoCpus),
    cpuShares: nz(b.CpuShares),
    cpuPeriod: nz(b.CpuPeriod),
    cpuQuota: nz(b.CpuQuota),
  };
  for (const k of UNSUPPORTED) {
    const v = b[k];
    if (v !== undefined && v !== 0n) throw new InvalidArgumentError(`updating ${k} is not supported on this node`);
  }
  if (b.CpusetCpus || b.CpusetMems) throw new InvalidArgumentError(`updating ${b.CpusetCpus ? 'CpusetCpus' : 'CpusetMems'} is not supported on this node`);
  const name = b.RestartPolicy?.Name ?? '';
  if (name) req.restartPolicy = { name, maximumRetryCount: int32Of(b.RestartPolicy?.MaximumRetryCount ?? 0n) };
  for (const k of Object.keys(req) as (keyof supervisorV1.UpdateContainerRequest)[]) if (req[k] === undefined) delete req[k];
  return req;
}
