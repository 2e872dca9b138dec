import { createLogger } from '@drydock/logging';
import { loadRegistryProxyConfig } from './config';
import { RegistryServer } from './http/registry-server';
import { RegistryStore } from './registry/registry-store';

/** Composition root: config, store, HTTP server, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadRegistryProxyConfig(process.env);
  const logger = createLogger({ service: 'registry-proxy', level: config.logLevel });
  const log = logger.child({ component: 'main' });
  const store = new RegistryStore(config.storageDir);
  await store.init();
  const server = new RegistryServer(store, logger, { maxManifestBytes: config.maxManifestBytes });
  const addr = await server.listen(config.host, config.port);
  log.info({ address: `${addr.address}:${addr.port}`, storageDir: config.storageDir }, 'registry listening');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    await server.close(config.shutdownGraceMs);
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
