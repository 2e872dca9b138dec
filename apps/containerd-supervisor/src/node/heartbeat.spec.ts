import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { waitFor } from '@drydock/infra';
import { createLogger } from '@drydock/logging';
import { Heartbeat, MAX_BEAT_IMAGES, type ContainerCounts, type NodeHeartbeat } from './heartbeat';

/** The slice of nats.js the heartbeat uses: jetstream().views.kv() -> put/delete/status. */
function fakeNats() {
  const puts: Array<{ key: string; value: NodeHeartbeat }> = [];
  const deletes: string[] = [];
  const opened: Array<{ bucket: string; opts: unknown }> = [];
  const kv = {
    put: async (key: string, data: Uint8Array) => {
      puts.push({ key, value: JSON.parse(Buffer.from(data).toString()) });
      return puts.length;
    },
    delete: async (key: string) => void deletes.push(key),
    status: async () => ({ ttl: 15000 }),
  };
  const nc = {
    jetstream: () => ({
      views: {
        kv: async (bucket: string, opts: unknown) => {
          opened.push({ bucket, opts });
          return kv;
        },
      },
    }),
  } as unknown as NatsConnection;
  return { nc, puts, deletes, opened };
}

describe('Heartbeat', () => {
  let dir: string;
  const logger = createLogger({ service: 'test', level: 'silent' });
  const identity = { nodeId: '6f1c3c55-2c57-4a3e-9d1e-0d6c4b1b7f00', name: 'n1', labels: { zone: 'a' } };
  const counts: ContainerCounts = { total: 3, running: 1, paused: 1, stopped: 1 };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hb-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'meminfo'), 'MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  400 kB\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stat = (user: number, idle: number) => writeFileSync(join(dir, 'stat'), `cpu  ${user} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n`);

  it('reports memory and the cpu busy fraction over the last interval', async () => {
    const f = fakeNats();
    const hb = new Heartbeat({ nc: f.nc, identity, supervisorAddress: 'h:1', engineLabels: { storagedriver: 'overlay2' }, countContainers: async () => counts, logger, procRoot: dir, ttlMs: 15000 });
    stat(100, 300);
    const first = await hb.beatOnce();
    expect(first.cpuUsage).toBeCloseTo(0.25); // since boot for the first beat
    stat(100 + 30, 300 + 10);
    const second = await hb.beatOnce();
    expect(second.cpuUsage).toBeCloseTo(0.75);
    expect(second).toMatchObject({ nodeId: identity.nodeId, name: 'n1', labels: { zone: 'a' }, engineLabels: { storagedriver: 'overlay2' }, memoryBytes: 1024000, memoryUsedBytes: 600 * 1024, containers: counts, supervisorAddress: 'h:1' });
    expect(f.puts.map((p) => p.key)).toEqual([identity.nodeId, identity.nodeId]);
    expect(f.opened).toEqual([{ bucket: 'drydock_nodes', opts: { ttl: 15000, history: 1, replicas: 1 } }]);
  });

  it('carries the node image references, and beats without them when they cannot be listed', async () => {
    const f = fakeNats();
    let fail = false;
    const listImages = async () => {
      if (fail) throw new Error('containerd down');
      return ['sha256:abc', 'busybox:latest', ...Array.from({ length: MAX_BEAT_IMAGES }, (_, i) => `img${i}:v`)];
    };
    const hb = new Heartbeat({ nc: f.nc, identity, supervisorAddress: 'h:1', countContainers: async () => counts, listImages, logger, procRoot: dir });
    stat(1, 1);
    const first = await hb.beatOnce();
    expect(first.images?.slice(0, 2)).toEqual(['sha256:abc', 'busybox:latest']);
    expect(first.images).toHaveLength(MAX_BEAT_IMAGES);
    fail = true;
    const second = await hb.beatOnce();
    expect(second.images).toBeUndefined();
    expect(f.puts).toHaveLength(2);
  });

  it('skips beats while containers cannot be counted and deletes its key on stop', async () => {
    stat(1, 1);
    const f = fakeNats();
    let fail = true;
    const hb = new Heartbeat({
      nc: f.nc,
      identity,
      supervisorAddress: 'h:1',
      countContainers: async () => {
        if (fail) throw new Error('containerd down');
        return counts;
      },
      logger,
      procRoot: dir,
      intervalMs: 10,
    });
    hb.start();
    await new Promise((r) => setTimeout(r, 60));
    expect(f.puts).toHaveLength(0);
    fail = false;
    await waitFor(() => f.puts.length > 0, 5000, 'a beat after recovery');
    await hb.stop();
    const n = f.puts.length;
    expect(f.deletes).toEqual([identity.nodeId]);
    await new Promise((r) => setTimeout(r, 40));
    expect(f.puts.length).toBe(n); // no beat after stop
    await hb.close(); // idempotent
    expect(f.deletes).toHaveLength(1);
  });

  it('leaves the key to age out when stopped without deregistering', async () => {
    stat(1, 1);
    const f = fakeNats();
    const hb = new Heartbeat({ nc: f.nc, identity, supervisorAddress: 'h:1', countContainers: async () => counts, logger, procRoot: dir });
    hb.start();
    await hb.stop({ deregister: false });
    expect(f.puts).toHaveLength(1);
    expect(f.deletes).toHaveLength(0);
  });
});
