/**
 * Event sink and heartbeat against a real nats-server with JetStream (random port,
 * private store directory), including a SIGKILL of the server in the middle of a
 * stream of events.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONCodec, StorageType, nanos, type JsMsg, type KV, type NatsConnection } from 'nats';
import { NatsServerProcess, waitFor } from '@drydock/infra';
import { createLogger } from '@drydock/logging';
import { containerEvent, execAction, imageEvent, type DockerEvent } from '../src/events/docker-event';
import { DEFAULT_EVENTS_STREAM, JetStreamEventSink, eventSubject } from '../src/events/event-sink';
import { connectNats } from '../src/events/nats-connection';
import { Heartbeat, type NodeHeartbeat } from '../src/node/heartbeat';

const logger = createLogger({ service: 'events-int-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const codec = JSONCodec<DockerEvent>();

describe('events and heartbeat on a real nats-server', () => {
  let dir: string;
  let nats: NatsServerProcess;
  let nc: NatsConnection;
  const sinks: JetStreamEventSink[] = [];
  const heartbeats: Heartbeat[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drydock-events-'));
    nats = new NatsServerProcess({ dir: join(dir, 'nats') });
    await nats.start();
    nc = await connectNats({ servers: [nats.url], name: 'events-int-test', logger, reconnectTimeWaitMs: 100 });
  });

  afterAll(async () => {
    for (const s of sinks) await s.close();
    for (const h of heartbeats) await h.stop({ deregister: false });
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function newSink(nodeId: string): JetStreamEventSink {
    const sink = new JetStreamEventSink({ nc, nodeId, logger, retryMinMs: 50, retryMaxMs: 500, publishTimeoutMs: 1000 });
    sinks.push(sink);
    return sink;
  }

  /** Every message on the node's subjects, in stream order, via an ordered consumer. */
  async function readBack(nodeId: string, atLeast: number): Promise<JsMsg[]> {
    const js = nc.jetstream();
    // A single filter as a string: filterSubjects as an array needs nats-server 2.10 (Debian ships 2.9).
    const consumer = await js.consumers.get(DEFAULT_EVENTS_STREAM, { filterSubjects: `drydock.events.${nodeId}.>` });
    const out: JsMsg[] = [];
    // Read until nothing more arrives: any duplicate beyond `atLeast` is caught too.
    for (;;) {
      const missing = atLeast - out.length;
      const batch = await consumer.fetch(missing > 0 ? { max_messages: missing, expires: 5000 } : { max_messages: 1000, expires: 1000 });
      let n = 0;
      for await (const m of batch) {
        out.push(m);
        n++;
      }
      if (n === 0) break;
    }
    return out;
  }

  it('stores an event once when its ack came too late and it was retried (server frozen with SIGSTOP)', async () => {
    const nodeId = randomUUID();
    const sink = new JetStreamEventSink({ nc, nodeId, logger, retryMinMs: 50, retryMaxMs: 100, publishTimeoutMs: 250 });
    sinks.push(sink);
    const ev = (seq: number) => containerEvent('start', { id: 'f'.repeat(64), name: 'c', labels: { seq: String(seq) } });
    sink.publish(ev(0));
    expect(await sink.flush(10000)).toBe(true); // the stream is known; the next send is a bare publish

    // Frozen, the server reads nothing: the publish and each timed-out retry of it wait in
    // the socket and are all processed after SIGCONT. Only the msgID keeps them to one.
    const pid = nats.pid!;
    sink.publish(ev(1));
    sink.publish(ev(2));
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await sink.flush(20000)).toBe(true);

    const msgs = await readBack(nodeId, 3);
    expect(msgs.map((m) => codec.decode(m.data).Actor.Attributes.seq)).toEqual(['0', '1', '2']);
  });

  async function openWhenCreated(bucket: string): Promise<KV> {
    let kv: KV | undefined;
    await waitFor(async () => {
      kv = await nc.jetstream().views.kv(bucket, { bindOnly: true }).catch(() => undefined);
      return !!kv;
    }, 10000, `bucket ${bucket}`);
    return kv!;
  }

  it('stores each event once, in order, on drydock.events.<node>.<type>, with exact content', async () => {
    const nodeId = randomUUID();
    const sink = newSink(nodeId);
    const id = 'c'.repeat(64);
    const subject = { id, name: '/web', image: 'nginx', labels: { 'com.example.app': 'shop' } };
    const sent: DockerEvent[] = [
      containerEvent('create', subject),
      containerEvent('start', subject),
      containerEvent(execAction('exec_create', 'sh', ['-c', 'true']), { ...subject, attributes: { execID: 'e1' } }),
      containerEvent(execAction('exec_start', 'sh', ['-c', 'true']), { ...subject, attributes: { execID: 'e1' } }),
      containerEvent('exec_die', { ...subject, attributes: { execID: 'e1', exitCode: '0' } }),
      containerEvent('kill', { ...subject, attributes: { signal: '15' } }),
      containerEvent('die', { ...subject, attributes: { exitCode: '143' } }),
      imageEvent('tag', { id: 'sha256:' + 'd'.repeat(64), name: 'nginx:latest' }),
      containerEvent('destroy', subject),
    ];
    for (const e of sent) sink.publish(e);
    expect(await sink.flush(10000)).toBe(true);

    const msgs = await readBack(nodeId, sent.length);
    expect(msgs.map((m) => codec.decode(m.data))).toEqual(sent);
    expect(msgs.map((m) => m.subject)).toEqual(sent.map((e) => eventSubject(nodeId, e.Type)));
    expect(msgs[7].subject).toBe(`drydock.events.${nodeId}.image`);
    const ids = msgs.map((m) => m.headers?.get('Nats-Msg-Id'));
    expect(new Set(ids).size).toBe(sent.length);
    expect(ids.every((i) => !!i)).toBe(true);

    const info = await (await nc.jetstreamManager()).streams.info(DEFAULT_EVENTS_STREAM);
    expect(info.config.subjects).toEqual(['drydock.events.>']);
    expect(info.config.storage).toBe(StorageType.File);
    expect(info.config.max_age).toBe(nanos(7 * 24 * 3600 * 1000));
    expect(info.config.max_msgs).toBe(1_000_000);
  });

  it('keeps every event, once and in order, across a SIGKILL and restart of nats-server', async () => {
    const nodeId = randomUUID();
    const sink = newSink(nodeId);
    const ev = (seq: number) => containerEvent('start', { id: 'e'.repeat(64), name: 'c', image: 'busybox', labels: { seq: String(seq) } });

    for (let i = 0; i < 5; i++) sink.publish(ev(i));
    expect(await sink.flush(10000)).toBe(true);

    // A burst, and the server dies under it: some of these are in flight or unsent.
    for (let i = 5; i < 205; i++) sink.publish(ev(i));
    await nats.kill();
    // More while NATS is down: publish() must neither block nor throw.
    const t0 = Date.now();
    for (let i = 205; i < 305; i++) sink.publish(ev(i));
    expect(Date.now() - t0).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.pending).toBeGreaterThan(0);

    await nats.start(); // same port, same store directory
    expect(await sink.flush(30000)).toBe(true);
    expect(sink.dropped).toBe(0);

    const msgs = await readBack(nodeId, 305);
    const seqs = msgs.map((m) => Number(codec.decode(m.data).Actor.Attributes.seq));
    expect(seqs).toEqual([...Array(305).keys()]);
  });

  it('writes the heartbeat into the nodes bucket and lets it age out when not deregistered', async () => {
    const nodeId = randomUUID();
    const bucket = 'test_nodes';
    const hb = new Heartbeat({
      nc,
      identity: { nodeId, name: 'node-a', labels: { zone: 'z1' } },
      supervisorAddress: '127.0.0.1:7070',
      countContainers: async () => ({ total: 4, running: 2, paused: 1, stopped: 1 }),
      logger,
      bucket,
      ttlMs: 2000,
      intervalMs: 200,
    });
    heartbeats.push(hb);
    hb.start();
    // Bind only: opening the bucket here must not create it ahead of the heartbeat (with no TTL).
    const kv = await openWhenCreated(bucket);
    let first: NodeHeartbeat | undefined;
    let firstRevision = 0;
    await waitFor(async () => {
      const e = await kv.get(nodeId);
      if (e?.operation === 'PUT') {
        first = e.json<NodeHeartbeat>();
        firstRevision = e.revision;
      }
      return !!first;
    }, 10000, 'first heartbeat');
    expect(first).toMatchObject({
      nodeId,
      name: 'node-a',
      labels: { zone: 'z1' },
      containers: { total: 4, running: 2, paused: 1, stopped: 1 },
      supervisorAddress: '127.0.0.1:7070',
    });
    expect(first!.cpus).toBeGreaterThan(0);
    expect(first!.memoryBytes).toBeGreaterThan(0);
    expect(first!.memoryUsedBytes).toBeGreaterThan(0);
    expect(first!.memoryUsedBytes).toBeLessThanOrEqual(first!.memoryBytes);
    expect(first!.cpuUsage).toBeGreaterThanOrEqual(0);
    expect(first!.cpuUsage).toBeLessThanOrEqual(1);
    expect(Math.abs(first!.time - Date.now())).toBeLessThan(60000);
    expect((await kv.status()).ttl).toBe(2000);

    // It keeps beating.
    await waitFor(async () => ((await kv.get(nodeId))?.revision ?? 0) > firstRevision, 10000, 'second heartbeat');

    // Stopped like a crash: the entry stays until the bucket's max age removes it.
    await hb.stop({ deregister: false });
    expect((await kv.get(nodeId))?.operation).toBe('PUT');
    await waitFor(async () => (await kv.get(nodeId)) === null, 15000, 'heartbeat to age out', 100);
  });

  it('deletes the key on a graceful stop', async () => {
    const nodeId = randomUUID();
    const hb = new Heartbeat({
      nc,
      identity: { nodeId, name: 'node-b', labels: {} },
      supervisorAddress: '127.0.0.1:7071',
      countContainers: async () => ({ total: 0, running: 0, paused: 0, stopped: 0 }),
      logger,
      bucket: 'test_nodes',
      ttlMs: 2000,
      intervalMs: 200,
    });
    heartbeats.push(hb);
    hb.start();
    const kv = await openWhenCreated('test_nodes');
    await waitFor(async () => (await kv.get(nodeId))?.operation === 'PUT', 10000, 'heartbeat');
    await hb.stop();
    expect((await kv.get(nodeId))?.operation).toBe('DEL');
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys).not.toContain(nodeId);
  });
});
