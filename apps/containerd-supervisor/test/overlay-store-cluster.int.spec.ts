// The overlay store on a REAL three-server NATS cluster (bucket with three replicas): a
// server lost in the middle of leasing costs a leader election, no address handed twice.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { createLogger } from '@drydock/logging';
import { retryTransientKv } from '@drydock/cluster';
import { freePort, ManagedProcess, natsServerCommand, tcpAccepts, waitFor } from '@drydock/infra';
import { makeTempDir } from '@drydock/testing';
import { KvOverlayStore, openOverlayBucket, OVERLAY_BUCKET } from '../src/networks/overlay/kv-overlay-store';
import { overlayInput, owner } from '../src/networks/overlay/overlay-store.contract';

const logger = createLogger({ service: 'test', level: 'silent' });
let dir: string;
const servers: ManagedProcess[] = [];
const ports: number[] = [];
const conns: NatsConnection[] = [];
const stores: KvOverlayStore[] = [];

beforeAll(async () => {
  dir = await makeTempDir('ovcluster');
  const routePorts = [await freePort(), await freePort(), await freePort()];
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  for (let i = 0; i < 3; i++) {
    const p = new ManagedProcess({
      name: `nats-${i}`,
      command: () => natsServerCommand({ storeDir: join(dir, `n${i}`), port: ports[i], cluster: { name: 'ovc', serverName: `n${i}`, port: routePorts[i], routes: routePorts.map((r) => `nats://127.0.0.1:${r}`) } }),
      logPath: join(dir, `n${i}.log`),
      ready: () => tcpAccepts(ports[i]),
      dieWithParent: true,
    });
    servers.push(p);
  }
  await Promise.all(servers.map((s) => s.start()));
  for (let i = 0; i < 2; i++) {
    // each node prefers its own server, and knows the others
    const nc = await connect({ servers: [ports[i], ...ports.filter((_, j) => j !== i)].map((p) => `nats://127.0.0.1:${p}`), noRandomize: true, reconnectTimeWait: 200 });
    conns.push(nc);
    let kv;
    // the meta group elects a leader first: the bucket can be made once it has one
    for (let attempt = 0; ; attempt++) {
      try {
        kv = await openOverlayBucket(nc, 3);
        break;
      } catch (err) {
        if (attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    const s = new KvOverlayStore({ kv, nodeId: `node-${i}`, logger, leaderlessForMs: 20000 });
    await s.start();
    stores.push(s);
  }
}, 90000);

afterAll(async () => {
  for (const s of stores) s.close();
  for (const nc of conns) await nc.close().catch(() => undefined);
  for (const s of servers) await s.stop().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('leases on through the loss of a NATS server, every address once', async () => {
  const [a, b] = stores;
  const n = await a.createNetwork(overlayInput('ha', { subnet: '10.253.0.0/24' }));
  const lease = (i: number) => (i % 2 ? b : a).lease(n.id, '', owner(`node-${i % 2}`, i)).then((r) => r.ip);
  const before = await Promise.all(Array.from({ length: 40 }, (_, i) => lease(i)));
  // the bucket's stream leader goes (and with it the connection of a node that prefers it)
  const info = await (await conns[0].jetstreamManager()).streams.info(`KV_${OVERLAY_BUCKET}`);
  const leader = Number(info.cluster?.leader?.slice(1));
  expect([0, 1, 2]).toContain(leader);
  const during = Promise.all(Array.from({ length: 40 }, (_, i) => new Promise((r) => setTimeout(r, i * 10)).then(() => lease(40 + i))));
  await servers[leader].kill();
  const ips = [...before, ...(await during), ...(await Promise.all(Array.from({ length: 20 }, (_, i) => lease(80 + i))))];
  expect(new Set(ips).size).toBe(100);
  // and the held addresses, as the stream has them, are exactly those
  // (the JetStream meta leader may have gone with the server: its API times out until one is elected)
  const kv = await retryTransientKv(() => openOverlayBucket(conns[leader === 0 ? 1 : 0], 3), 20000);
  const held = await retryTransientKv(async () => {
    const out: string[] = [];
    for await (const k of await kv.keys(`lease.${n.id}.>`)) out.push(k);
    return out;
  }, 20000);
  expect(held).toHaveLength(100);
  // the other node's watch goes on too
  const later = await a.createNetwork(overlayInput('after', { subnet: '10.253.1.0/24' }));
  // (nats.js makes a lost ordered consumer again after two missed 5 s heartbeats: about 10 s)
  await waitFor(() => b.networks().some((x) => x.id === later.id), 30000, 'the watch after the server loss');
}, 90000);
