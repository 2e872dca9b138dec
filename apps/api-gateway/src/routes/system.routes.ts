import { arch, release } from 'node:os';
import type { supervisorV1 } from '@drydock/proto';
import type { Logger } from '@drydock/logging';
import type { ContainerLocator } from '../backend/supervisor-client';
import { swarmSystemStatus } from '../cluster/swarm-info';
import { DEFAULT_REGISTRY_CONFIG, goArch, infoJson, versionComponents } from '../docker/info-json';
import { API_VERSION, MIN_API_VERSION, type Router } from '../http/router';
import type { RegistryControl, RegistryServiceConfig } from '../registry/registry-proxy-client';

export interface SystemInfo {
  version: string;
  gitCommit: string;
  /** The scheduler's strategy, shown in a cluster's info. */
  strategy?: string;
}

/** `docker info` must answer even when the registry-proxy does not: it gets this long. */
const REGISTRY_CONFIG_TIMEOUT_MS = 2000;

/** /_ping, /version, /info. */
export function registerSystemRoutes(router: Router, nodes: ContainerLocator, registry: Pick<RegistryControl, 'registryConfig'>, sys: SystemInfo): void {
  const pingHeaders = {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
  router.on(['GET', 'HEAD'], '/_ping', (ctx) => {
    ctx.res.writeHead(200, { ...pingHeaders, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  });

  router.on('GET', '/version', async (ctx) => {
    const node = await nodeInfo(nodes);
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: sys.gitCommit, GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: goArch(arch()), KernelVersion: node.kernelVersion || release(), Experimental: 'false', BuildTime: '' };
    ctx.send(200, {
      Platform: { Name: 'Drydock' },
      Components: [{ Name: 'Engine', Version: sys.version, Details: details }, ...versionComponents(node)],
      Version: sys.version,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: sys.gitCommit,
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(arch()),
      KernelVersion: node.kernelVersion || release(),
      BuildTime: '',
    });
  });

  router.on('GET', '/info', async (ctx) => {
    const [node, reg, volumeDrivers] = await Promise.all([nodeInfo(nodes), registryConfig(registry, ctx.signal, ctx.log), volumeDriverNames(nodes, ctx.log)]);
    const body = infoJson(node, reg.config, { version: sys.version, gitCommit: sys.gitCommit, arch: arch(), warnings: reg.warnings, volumeDrivers }, new Date());
    // a cluster's nodes as classic Swarm's manager listed them (the CLI prints SystemStatus rows)
    if (nodes.cluster) body.SystemStatus = swarmSystemStatus(nodes.cluster.nodes(), sys.strategy ?? 'spread');
    ctx.send(200, body);
  });
}

async function nodeInfo(nodes: ContainerLocator): Promise<supervisorV1.GetNodeInfoResponse> {
  const sc = nodes.local();
  return sc.call(sc.node, sc.node.getNodeInfo, {});
}

/** "local" and the node's volume plugins (the supervisor bounds how long it waits for plugins). */
async function volumeDriverNames(nodes: ContainerLocator, log: Logger): Promise<string[]> {
  const sc = nodes.local();
  try {
    return (await sc.call(sc.volumes, sc.volumes.listVolumeDrivers, {})).drivers ?? ['local'];
  } catch (err) {
    log.warn({ err }, 'volume drivers unavailable');
    return ['local'];
  }
}

/** The registry-proxy's registry settings; when it cannot say, dockerd's defaults and a warning. */
async function registryConfig(registry: Pick<RegistryControl, 'registryConfig'>, signal: AbortSignal, log: Logger): Promise<{ config: RegistryServiceConfig; warnings: string[] }> {
  try {
    return { config: await registry.registryConfig(AbortSignal.any([signal, AbortSignal.timeout(REGISTRY_CONFIG_TIMEOUT_MS)])), warnings: [] };
  } catch (err) {
    log.warn({ err }, 'registry configuration unavailable');
    return { config: DEFAULT_REGISTRY_CONFIG, warnings: ['WARNING: the registry-proxy did not answer: registry mirrors and insecure registries are not shown'] };
  }
}
