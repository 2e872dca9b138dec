import { startServiceIdleCollector } from '@drydock/runtime';
import { createLogger } from '@drydock/logging';
import { BlobCache } from './cache';
import { loadRegistryProxyConfig } from './config';
import { ControlRoutes } from './http/control-routes';
import { RegistryServer } from './http/registry-server';
import { RemoteRoutes } from './http/remote-routes';
import { RegistryStore } from './registry/registry-store';
import { EndpointResolver } from './upstream/endpoints';
import { HttpTransport } from './upstream/http-transport';
import { LoginService } from './upstream/login';
import { RegistryClient } from './upstream/registry-client';
import { RemoteRegistry } from './upstream/remote-registry';
import { SearchService } from './upstream/search';
import { serviceConfig } from './upstream/service-config';

/** Composition root: config, store, cache, upstream client, HTTP server, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadRegistryProxyConfig(process.env);
  const logger = createLogger({ service: 'registry-proxy', level: config.logLevel });
  const log = logger.child({ component: 'main' });
  // what a burst of work leaves resident (V8's heap, freed malloc pages) goes back once the service is quiet
  startServiceIdleCollector(log);
  const store = new RegistryStore(config.storageDir);
  await store.init();
  const cache = new BlobCache({ dir: config.cache.dir, maxBytes: config.cache.maxBytes, logger });
  await cache.init();
  const transport = new HttpTransport({ timeoutMs: config.upstream.timeoutMs, stallMs: config.upstream.stallMs, userAgent: 'drydock-registry-proxy/0.1' });
  const resolver = new EndpointResolver(config.upstream);
  const client = new RegistryClient(transport, resolver, logger);
  const remote = new RemoteRegistry(client, cache, logger, { maxManifestBytes: config.maxManifestBytes });
  const server = new RegistryServer(store, logger, {
    maxManifestBytes: config.maxManifestBytes,
    remote: new RemoteRoutes(remote, { maxManifestBytes: config.maxManifestBytes }),
    control: new ControlRoutes(new LoginService(client), new SearchService(transport, resolver), serviceConfig(config.upstream)),
  });
  const addr = await server.listen(config.host, config.port);
  log.info(
    { address: `${addr.address}:${addr.port}`, storageDir: config.storageDir, cacheDir: config.cache.dir, mirrors: config.upstream.mirrors, insecureRegistries: config.upstream.insecureRegistries },
    'registry listening',
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    await server.close(config.shutdownGraceMs);
    await cache.close();
    transport.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(JSON.stringify({ level: 'fatal', msg: 'registry-proxy failed to start', err: { message: String(err?.message ?? err), stack: err?.stack } }));
  process.exit(1);
});
