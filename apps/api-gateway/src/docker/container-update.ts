import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';
import { JsonReader } from './json-types';

/** Resources this node cannot change on a live container; non-zero values are refused, not dropped. */
const UNSUPPORTED = ['BlkioWeight', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'PidsLimit', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'];

/**
 * POST /containers/{id}/update body -> UpdateContainerRequest. The CLI sends the
 * whole Resources struct with zeros for what the user did not set; dockerd
 * applies only non-zero values (and a RestartPolicy with a Name), so zeros map
 * to "unset" here.
 */
export function parseUpdateBody(id: string, body: unknown): supervisorV1.UpdateContainerRequest {
  if (body === undefined || body === null) return { id };
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError(`json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type container.UpdateConfig`);
  const b = body as Record<string, unknown>;
  const r = new JsonReader('UpdateConfig');
  const nz = (v: string | undefined) => (v === undefined || v === '0' ? undefined : v);
  const req: supervisorV1.UpdateContainerRequest = {
    id,
    memory: nz(r.int(b, 'Memory')),
    memorySwap: nz(r.int(b, 'MemorySwap')),
    nanoCpus: nz(r.int(b, 'NanoCpus')),
    cpuShares: nz(r.int(b, 'CpuShares')),
    cpuPeriod: nz(r.int(b, 'CpuPeriod')),
    cpuQuota: nz(r.int(b, 'CpuQuota')),
  };
  const cpusetCpus = r.str(b, 'CpusetCpus');
  const cpusetMems = r.str(b, 'CpusetMems');
  for (const k of UNSUPPORTED) {
    const v = b[k];
    if (v !== undefined && v !== null && v !== 0) throw new InvalidArgumentError(`updating ${k} is not supported on this node`);
  }
  if (cpusetCpus || cpusetMems) throw new InvalidArgumentError(`updating ${cpusetCpus ? 'CpusetCpus' : 'CpusetMems'} is not supported on this node`);
  const rp = r.obj(b, 'RestartPolicy');
  if (rp) {
    const rr = new JsonReader('UpdateConfig.RestartPolicy');
    const name = rr.str(rp, 'Name') ?? '';
    if (name) req.restartPolicy = { name, maximumRetryCount: Number(rr.int(rp, 'MaximumRetryCount', 'MaximumRetryCount', 'int') ?? '0') };
  }
  for (const k of Object.keys(req) as (keyof supervisorV1.UpdateContainerRequest)[]) if (req[k] === undefined) delete req[k];
  return req;
}
