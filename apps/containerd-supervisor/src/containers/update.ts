import type { supervisorV1 } from '@drydock/proto';
import { actor, isRunning, type ContainerContext } from './container-context';
import { validateRestartPolicy } from './restart-policy';

/** docker update: resources and restart policy; a running task gets the new limits at once. */
export async function updateContainer(ctx: ContainerContext, req: supervisorV1.UpdateContainerRequest): Promise<string[]> {
  const e = ctx.resolve(req.id ?? '');
  return ctx.lock.run(e.c.spec.id, async () => {
    const hc: supervisorV1.HostConfig = { ...e.c.spec.hostConfig };
    for (const k of ['memory', 'memorySwap', 'nanoCpus', 'cpuShares', 'cpuPeriod', 'cpuQuota'] as const) {
      if (req[k] !== undefined) hc[k] = req[k];
    }
    if (req.nanoCpus !== undefined && req.nanoCpus !== '0') {
      hc.cpuPeriod = '0';
      hc.cpuQuota = '0';
    }
    if (req.restartPolicy) hc.restartPolicy = req.restartPolicy;
    validateRestartPolicy(hc.restartPolicy, hc.autoRemove ?? false);
    ctx.specs.validateHostConfig(hc);
    const oci = ctx.specs.withResources(await ctx.store.ociSpec<object>(e.c.spec.id), hc);
    if (isRunning(e)) {
      await ctx.cc.unary(ctx.cc.tasks, ctx.cc.tasks.update, {
        containerId: e.c.spec.id,
        resources: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify(ctx.specs.resources(oci))) },
      });
    }
    e.c.spec = { ...e.c.spec, hostConfig: hc };
    await ctx.store.saveSpec(e.c.spec.id, e.c.spec, oci);
    ctx.events.container('update', actor(e.c));
    return [];
  });
}
