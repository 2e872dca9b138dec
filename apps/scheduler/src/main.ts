import { startServiceIdleCollector } from '@drydock/runtime';
import { createLogger } from '@drydock/logging';
import { loadSchedulerConfig } from './config';
import { startScheduler } from './server';

/** Composition root: config, logger, the scheduler; drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadSchedulerConfig(process.env);
  const logger = createLogger({ service: 'scheduler', level: config.logLevel });
  const log = logger.child({ component: 'main' });
  // what a burst of placements leaves resident goes back once the service is quiet
  startServiceIdleCollector(log);
  const scheduler = await startScheduler(config, logger);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down; placements are in the directory');
    setTimeout(() => process.exit(0), config.shutdownGraceMs).unref();
    await scheduler.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(JSON.stringify({ level: 'fatal', msg: 'scheduler failed to start', err: { message: String(err?.message ?? err), stack: err?.stack } }));
  process.exit(1);
});
