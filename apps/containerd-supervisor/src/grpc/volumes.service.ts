import type { supervisorV1 } from '@drydock/proto';
import type { VolumeInfo, VolumeUsers } from '../volumes/volume-store';
import type { VolumeService } from '../volumes/volume-service';
import type { Handlers } from './handlers';

export function volumeMessage(v: VolumeInfo, refCount = -1, size = -1): supervisorV1.Volume {
  return {
    name: v.name,
    driver: v.driver,
    mountpoint: v.mountpoint,
    createdAt: v.createdAt,
    labels: v.labels,
    options: v.options,
    scope: v.scope,
    refCount,
    size: String(size),
    statusJson: v.status ? JSON.stringify(v.status) : '',
  };
}

const filtersOf = (fs: supervisorV1.Filter[] | undefined) => (fs ?? []).map((f) => ({ key: f.key ?? '', values: f.values ?? [] }));

/** Thin gRPC adapter over the VolumeService (drydock.supervisor.v1.Volumes); usage comes from the containers. */
export function volumesService(volumes: VolumeService, users: VolumeUsers, h: Handlers): supervisorV1.VolumesServer {
  return {
    createVolume: h.unary('CreateVolume', async (req: supervisorV1.CreateVolumeRequest) => {
      const volume = await volumes.create({ name: req.name, driver: req.driver, driverOpts: req.driverOpts, labels: req.labels });
      return { volume: volumeMessage(volume) };
    }),
    listVolumes: h.unary('ListVolumes', async (req: supervisorV1.ListVolumesRequest) => {
      const res = await volumes.list(filtersOf(req.filters), users);
      return { volumes: res.volumes.map((v) => volumeMessage(v)), warnings: res.warnings };
    }),
    inspectVolume: h.unary('InspectVolume', async (req: supervisorV1.InspectVolumeRequest) => ({ volume: volumeMessage(await volumes.get(req.name ?? '')) })),
    removeVolume: h.unary('RemoveVolume', async (req: supervisorV1.RemoveVolumeRequest) => {
      await volumes.remove(req.name ?? '', users, !!req.force);
      return {};
    }),
    pruneVolumes: h.unary('PruneVolumes', async (req: supervisorV1.PruneVolumesRequest) => {
      const res = await volumes.prune(filtersOf(req.filters), users);
      return { deleted: res.deleted, spaceReclaimed: String(res.spaceReclaimed) };
    }),
    listVolumeDrivers: h.unary('ListVolumeDrivers', async () => ({ drivers: await volumes.driverNames() })),
  };
}
