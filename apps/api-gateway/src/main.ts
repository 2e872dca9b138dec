import type { NatsConnection } from 'nats';
import { connect } from 'nats';
import { startServiceIdleCollector } from '@drydock/runtime';
import { createLogger } from '@drydock/logging';
import { loadGatewayConfig } from './config';
import { SingleNodeLocator, SupervisorClient } from './backend/supervisor-client';
import { Router } from './http/router';
import { GatewayServer } from './http/server';
import { registerContainerRoutes } from './routes/containers.routes';
import { registerEventRoutes } from './routes/events.routes';
import { registerExecRoutes } from './routes/exec.routes';
import { registerImageRoutes } from './routes/images.routes';
import { registerImageArchiveRoutes } from './routes/image-archive.routes';
import { registerRegistryRoutes } from './routes/registry.routes';
import { RegistryProxyClient } from './registry/registry-proxy-client';
import { registerStreamRoutes } from './routes/streams.routes';
import { registerSystemRoutes } from './routes/system.routes';
import { registerVolumeRoutes } from './routes/volumes.routes';
import { registerPluginRoutes } from './routes/plugins.routes';
import { registerNetworkRoutes } from './routes/networks.routes';
import type { RouteDeps } from './routes/deps';
import { openClusterDoor } from './cluster/cluster-door';
import { BuildService, connectBuildQueue } from './build/build-service';
import { registerBuildRoutes } from './routes/build.routes';
import { LegacyPluginDirectory } from '@drydock/plugins';
import { AuthzChain } from './authz/authz';
import { AuthzPlugins, type ManagedPluginJson } from './authz/authz-plugins';

const VERSION = '20.10.24-drydock';

/** Composition root: config, clients, routes, listeners, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  const logger = createLogger({ service: 'api-gateway', level: config.logLevel });
  const log = logger.child({ component: 'main' });
  // what a burst of work leaves resident (V8's heap, freed malloc pages) goes back once the service is quiet
  startServiceIdleCollector(log);
  const supervisor = new SupervisorClient(config.supervisorAddress, config.callTimeoutMs);

  // NATS is needed for events (and a cluster's view) only: connect lazily and keep retrying, never block startup.
  let natsPromise: Promise<NatsConnection> | undefined;
  const nats = () =>
    (natsPromise ??= connect({ servers: config.natsServers, name: 'api-gateway', maxReconnectAttempts: -1, waitOnFirstConnect: true, reconnectTimeWait: 500 }).catch((err) => {
      natsPromise = undefined;
      throw err;
    }));
  // DRYDOCK_CLUSTER=1: a door to every node; unset, the local node only (no NATS or scheduler needed to create)
  const door = config.cluster ? openClusterDoor({ local: supervisor, nats, config: config.cluster, callTimeoutMs: config.callTimeoutMs, logger }) : undefined;
  const nodes = door?.locator ?? new SingleNodeLocator(supervisor);
  const deps: RouteDeps = { nodes, placement: door?.placement, nats, stateDir: process.env.DRYDOCK_STATE_DIR ?? '/var/lib/drydock' };

  // dockerd's --authorization-plugin; none configured, the router has no authorization step at all
  let authz: AuthzChain | undefined;
  if (config.authz.plugins.length > 0) {
    const a = config.authz;
    const legacy = new LegacyPluginDirectory({ socketsDir: a.socketsDir, specsDirs: a.specsDirs, activateTimeoutMs: a.timeoutMs, lookupRetryMs: 0, connectRetryMs: 0 }, logger);
    const inspect = async (name: string): Promise<ManagedPluginJson> => {
      const res = await supervisor.call(supervisor.plugins, supervisor.plugins.inspectPlugin, { name }, a.timeoutMs);
      return JSON.parse(res.pluginJson || '{}') as ManagedPluginJson;
    };
    authz = new AuthzChain(a.plugins, new AuthzPlugins({ timeoutMs: a.timeoutMs, runDir: a.runDir }, inspect, legacy).resolve);
    log.info({ plugins: a.plugins }, 'authorization plugins enabled');
  }
  const router = new Router(config.maxJsonBytes, authz);
  const registry = new RegistryProxyClient(config.registryProxyUrl, config.callTimeoutMs);
  registerSystemRoutes(router, nodes, registry, { version: VERSION, gitCommit: '', strategy: config.cluster?.strategy });
  registerContainerRoutes(router, deps);
  registerStreamRoutes(router, deps);
  registerExecRoutes(router, deps);
  registerImageRoutes(router, deps);
  registerImageArchiveRoutes(router, deps);
  registerRegistryRoutes(router, registry);
  registerVolumeRoutes(router, deps);
  registerPluginRoutes(router, deps);
  registerNetworkRoutes(router, deps);
  registerEventRoutes(router, deps);
  // Redis carries builds only
  const builds = new BuildService(() => connectBuildQueue(config.redisUrl, log, config.buildQueue), { registryProxyUrl: config.registryProxyUrl, maxContextBytes: config.buildContextMaxBytes }, logger);
  registerBuildRoutes(router, builds, nodes);

  const server = new GatewayServer(router, logger);
  await server.listen({ socketPath: config.socketPath, socketMode: config.socketMode, tcp: config.tcp, tls: config.tls });
  log.info({ dockerHost: `unix://${config.socketPath}` }, `export DOCKER_HOST=unix://${config.socketPath}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(0), 3000).unref();
    await server.close();
    door?.close();
    supervisor.close();
    await builds.close();
    if (natsPromise) await (await natsPromise.catch(() => undefined))?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(JSON.stringify({ level: 'fatal', msg: 'api-gateway failed to start', err: { message: String(err?.message ?? err), stack: err?.stack } }));
  process.exit(1);
});
