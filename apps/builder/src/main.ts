import { Redis } from 'ioredis';
import { startServiceIdleCollector } from '@drydock/runtime';
import { createLogger } from '@drydock/logging';
import { SupervisorBackend } from './backend/supervisor-backend';
import { loadBuilderConfig } from './config';
import { RegistryContextStore } from './context/context-store';
import { BuildRunner } from './worker/build-runner';
import { BuildWorker } from './worker/build.worker';

/** Composition root: config, Redis, supervisor client, context store, the BullMQ worker; drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadBuilderConfig(process.env);
  const logger = createLogger({ service: 'builder', level: config.logLevel });
  const log = logger.child({ component: 'main' });
  // what a burst of work leaves resident (V8's heap, freed malloc pages) goes back once the service is quiet
  startServiceIdleCollector(log);
  // null: commands wait out a Redis restart instead of failing (BullMQ needs it too)
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const subscriber = redis.duplicate();
  redis.on('error', (err) => log.debug({ err }, 'redis connection error'));
  subscriber.on('error', (err) => log.debug({ err }, 'redis subscriber error'));
  const backend = new SupervisorBackend({ address: config.supervisorAddress, callTimeoutMs: config.callTimeoutMs, retryWindowMs: config.retryWindowMs }, logger);
  const contexts = new RegistryContextStore(config.registryProxyUrl, config.retryWindowMs);
  const runner = new BuildRunner(backend, contexts, { workRoot: config.workDir, contextMaxBytes: config.contextMaxBytes }, logger);
  const worker = new BuildWorker(redis, subscriber, runner, backend, contexts, config, logger);
  await worker.start();
  log.info({ redis: config.redisUrl, supervisor: config.supervisorAddress, concurrency: config.concurrency }, 'builder ready');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down; running builds go to the next builder');
    setTimeout(() => process.exit(0), 3000).unref();
    await worker.close();
    backend.close();
    await redis.quit().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(JSON.stringify({ level: 'fatal', msg: 'builder failed to start', err: { message: String(err?.message ?? err), stack: err?.stack } }));
  process.exit(1);
});
