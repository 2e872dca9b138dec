import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ContainerdProcess,
  containerdPaths,
  NatsServerProcess,
  RedisServerProcess,
  RegistryProcess,
  deleteAllContainers,
  killShimsOf,
  unmountAllUnder,
  type RegistryOptions,
} from '@drydock/infra';
import { makeTempDir } from './temp-dir';

export interface TestInfraOptions {
  containerd?: boolean;
  nats?: boolean;
  redis?: boolean;
  /** Redis keeps its data in an append-only file across restarts (as the stack's does). */
  redisPersistent?: boolean;
  /** A distribution registry; an object sets basic-auth users. */
  registry?: boolean | Pick<RegistryOptions, 'htpasswd'>;
  /** Prefix of the temporary directory. */
  name?: string;
}

export interface TestContainerd {
  process: ContainerdProcess;
  /** gRPC socket path. */
  address: string;
  /** The namespace Drydock uses; cleanup covers every namespace anyway. */
  namespace: string;
}

export interface TestInfra {
  /** Private directory holding every server's data and logs. */
  dir: string;
  containerd?: TestContainerd;
  nats?: NatsServerProcess;
  redis?: RedisServerProcess;
  registry?: RegistryProcess;
  /** Deletes containers, stops everything started, unmounts and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the requested servers in a fresh /tmp directory on free ports; they are
 * SIGKILLed if the test process dies without stop(). If one
 * fails to start, the others are stopped and the error (naming a missing Debian
 * package where that is the cause) is thrown: tests never skip silently.
 */
export async function startTestInfra(opts: TestInfraOptions): Promise<TestInfra> {
  const dir = await makeTempDir(opts.name ?? 'infra');
  const infra: TestInfra = { dir, stop: () => stopOnce() };
  let stopping: Promise<void> | undefined;
  const stopOnce = () => (stopping ??= stopTestInfra(infra));
  try {
    const starts: Promise<void>[] = [];
    if (opts.containerd) {
      const process = new ContainerdProcess(containerdPaths(join(dir, 'ctd')), 'containerd', { dieWithParent: true });
      infra.containerd = { process, address: process.paths.address, namespace: 'drydock' };
      starts.push(process.start());
    }
    if (opts.nats) {
      infra.nats = new NatsServerProcess({ dir: join(dir, 'nats'), dieWithParent: true });
      starts.push(infra.nats.start());
    }
    if (opts.redis) {
      infra.redis = new RedisServerProcess({ dir: join(dir, 'redis'), dieWithParent: true, persistent: opts.redisPersistent });
      starts.push(infra.redis.start());
    }
    if (opts.registry) {
      const extra = typeof opts.registry === 'object' ? opts.registry : {};
      infra.registry = new RegistryProcess({ dir: join(dir, 'registry'), ...extra, dieWithParent: true });
      starts.push(infra.registry.start());
    }
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return infra;
  } catch (err) {
    await stopOnce().catch(() => undefined);
    throw err;
  }
}

async function stopTestInfra(infra: TestInfra): Promise<void> {
  const problems: string[] = [];
  await Promise.all([infra.nats?.stop(), infra.redis?.stop(), infra.registry?.stop()]);
  const ctd = infra.containerd;
  if (ctd) {
    // A test may have killed containerd; the containers can only be deleted through it.
    try {
      await ctd.process.start();
      problems.push(...(await deleteAllContainers(ctd.address)));
    } catch (err) {
      problems.push(`containerd cleanup: ${(err as Error).message}`);
    }
    await ctd.process.stop();
    killShimsOf(ctd.address);
    try {
      unmountAllUnder(infra.dir);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  // A directory with a mount left in it must not be deleted: rm would descend into the mount.
  if (!problems.some((p) => p.startsWith('could not unmount'))) {
    await rm(infra.dir, { recursive: true, force: true, maxRetries: 3 });
  }
  if (problems.length) throw new Error(`test infrastructure cleanup in ${infra.dir}:\n  ${problems.join('\n  ')}`);
}
