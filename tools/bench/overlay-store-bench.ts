/**
 * Overlay store benchmark (issue 13: "the cost of 1,000 endpoints spread over three nodes"):
 * a private nats-server with JetStream, three KvOverlayStores (three node ids, three
 * connections) on one bucket, one /22 overlay network, N leases spread over the nodes with C
 * in flight on each, then N endpoints published. Checks that every address is distinct and that
 * every node's view holds all N endpoints; prints leases/s, publishes/s and the time until the
 * last view had them all.
 *
 *   node tools/bench/run.mjs tools/bench/overlay-store-bench.ts [--endpoints 1000] [--concurrency 16]
 */
import { connect, type NatsConnection } from 'nats';
import { createLogger } from '@drydock/logging';
import { startTestInfra } from '@drydock/testing';
import { KvOverlayStore, openOverlayBucket } from '../../apps/containerd-supervisor/src/networks/overlay/kv-overlay-store';
import { endpoint, overlayInput, owner } from '../../apps/containerd-supervisor/src/networks/overlay/overlay-store.contract';

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const N = opt('endpoints', 1000);
const C = opt('concurrency', 16);
const NODES = opt('nodes', 3);

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function main(): Promise<void> {
  const infra = await startTestInfra({ nats: true, name: 'ovbench' });
  const logger = createLogger({ service: 'bench', level: 'silent' });
  const conns: NatsConnection[] = [];
  const stores: KvOverlayStore[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      const nc = await connect({ servers: infra.nats!.url });
      conns.push(nc);
      const s = new KvOverlayStore({ kv: await openOverlayBucket(nc, 1), nodeId: `node-${i}`, logger });
      await s.start();
      stores.push(s);
    }
    const net = await stores[0].createNetwork(overlayInput('bench', { subnet: '10.252.0.0/22' }));
    const work = Array.from({ length: N }, (_, i) => i);
    const ips: string[] = [];
    let t0 = performance.now();
    await Promise.all(stores.map((s, node) => pool(work.filter((i) => i % NODES === node), C, async (i) => {
      ips[i] = (await s.lease(net.id, '', owner(`node-${node}`, i))).ip;
    })));
    const leaseMs = performance.now() - t0;
    if (new Set(ips).size !== N) throw new Error(`addresses handed twice: ${N - new Set(ips).size}`);
    t0 = performance.now();
    await Promise.all(stores.map((s, node) => pool(work.filter((i) => i % NODES === node), C, (i) => s.publish(endpoint(net.id, ips[i], owner(`node-${node}`, i))))));
    const publishMs = performance.now() - t0;
    while (stores.some((s) => s.endpoints(net.id).length < N)) await new Promise((r) => setTimeout(r, 5));
    const allSeenMs = performance.now() - t0;
    const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
    console.log(JSON.stringify({ endpoints: N, nodes: NODES, concurrencyPerNode: C, leaseMs: Math.round(leaseMs), leasesPerSec: Math.round((N / leaseMs) * 1000), publishMs: Math.round(publishMs), publishesPerSec: Math.round((N / publishMs) * 1000), allViewsMs: Math.round(allSeenMs), rssMiBThreeStores: rss }));
  } finally {
    for (const s of stores) s.close();
    for (const nc of conns) await nc.close();
    await infra.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
