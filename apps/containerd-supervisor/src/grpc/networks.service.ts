import type { supervisorV1 } from '@drydock/proto';
import { scopeOf, type NetworkManager } from '../networks/network-manager';
import type { NetworkRecord } from '../networks/network-record';
import type { NetworkRuns } from '../networks/network-runs';
import { nsToTimestamp } from '../containers/record';
import type { Handlers } from './handlers';

/** NetworkRecord -> Docker's NetworkResource message. */
export function networkMessage(n: NetworkRecord, runs: NetworkRuns): supervisorV1.Network {
  return {
    id: n.id,
    name: n.name,
    created: nsToTimestamp(n.createdNs),
    scope: scopeOf(n),
    driver: n.driver,
    enableIpv6: n.enableIpv6,
    ipam: {
      driver: n.ipamDriver,
      options: n.ipamOptions,
      config: n.pools.map((p) => ({ subnet: p.subnet, gateway: p.gateway, ipRange: p.ipRange ?? '', auxAddresses: p.auxAddresses ?? {} })),
    },
    internal: n.internal,
    attachable: n.attachable,
    ingress: false,
    configOnly: false,
    containers: runs.endpointsView(n),
    options: n.options,
    labels: n.labels,
    peers: runs.peers(n),
  };
}

/** Thin gRPC adapter over NetworkManager and NetworkRuns (drydock.supervisor.v1.Networks). */
export function networksService(mgr: NetworkManager, runs: NetworkRuns, h: Handlers): supervisorV1.NetworksServer {
  return {
    createNetwork: h.unary('CreateNetwork', (req: supervisorV1.CreateNetworkRequest) => mgr.create(req)),
    listNetworks: h.unary('ListNetworks', async (req: supervisorV1.ListNetworksRequest) => ({ networks: mgr.list(req.filters ?? []).map((n) => networkMessage(n, runs)) })),
    inspectNetwork: h.unary('InspectNetwork', async (req: supervisorV1.InspectNetworkRequest) => ({ network: networkMessage(mgr.resolve(req.id ?? '', 'inspect'), runs) })),
    removeNetwork: h.unary('RemoveNetwork', async (req: supervisorV1.RemoveNetworkRequest) => {
      await mgr.remove(req.id ?? '');
      return {};
    }),
    pruneNetworks: h.unary('PruneNetworks', async (req: supervisorV1.PruneNetworksRequest) => ({ deleted: await mgr.prune(req.filters ?? []) })),
    connectNetwork: h.unary('ConnectNetwork', async (req: supervisorV1.ConnectNetworkRequest) => {
      await runs.connect(req.network ?? '', req.container ?? '', req.endpointConfig ?? {});
      return {};
    }),
    disconnectNetwork: h.unary('DisconnectNetwork', async (req: supervisorV1.DisconnectNetworkRequest) => {
      await runs.disconnect(req.network ?? '', req.container ?? '');
      return {};
    }),
  };
}
