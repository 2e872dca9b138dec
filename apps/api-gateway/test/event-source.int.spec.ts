/**
 * The JetStream event source against a real nats-server: `until` ends a request on
 * time whatever happens around it (the consumer being made while `until` passes, a
 * flood of events, no stream yet), and the events stored before it are still sent.
 */
import { connect, StorageType, type NatsConnection } from 'nats';
import { NatsServerProcess } from '@drydock/infra';
import { createLogger } from '@drydock/logging';
import { makeTempDir } from '@drydock/testing';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FilterArgs } from '../src/http/query';
import type { DockerEventMessage } from '../src/events/event-filter';
import { JetStreamEventSource, type EventSubscription } from '../src/events/jetstream-event-source';

const logger = createLogger({ service: 'event-source-int-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const ms = (t: number) => BigInt(t) * 1_000_000n;

describe('JetStreamEventSource on a real nats-server', () => {
  let dir: string;
  let nats: NatsServerProcess;
  let nc: NatsConnection;
  let stream = 0;

  beforeAll(async () => {
    dir = await makeTempDir('event-source');
    nats = new NatsServerProcess({ dir: join(dir, 'nats') });
    await nats.start();
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh stream per test, as the supervisors' sink makes it. */
  async function newStream(): Promise<{ name: string; prefix: string; publish: (action: string, atMs?: number) => Promise<void> }> {
    const name = `EV${++stream}`;
    const prefix = `ev${stream}.events`;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name, subjects: [`${prefix}.>`], storage: StorageType.File });
    const js = nc.jetstream();
    return {
      name,
      prefix,
      publish: async (action, atMs = Date.now()) => {
        const ev: DockerEventMessage = { Type: 'container', Action: action, Actor: { ID: 'c1', Attributes: { name: 'c1' } }, time: Math.floor(atMs / 1000), timeNano: atMs * 1e6 };
        await js.publish(`${prefix}.node1.container`, JSON.stringify(ev));
      },
    };
  }

  function source(s: { name: string; prefix: string }, extra: { untilDrainMs?: number } = {}): JetStreamEventSource {
    return new JetStreamEventSource({ nats: async () => nc, logger, streamName: s.name, subjectPrefix: s.prefix, streamPollMs: 50, ...extra });
  }

  /** Collects a subscription's actions and when it ended. */
  async function drain(sub: EventSubscription): Promise<{ actions: string[]; endedAt: number }> {
    const actions: string[] = [];
    for await (const ev of sub.events) actions.push(ev.Action);
    return { actions, endedAt: Date.now() };
  }

  it('a future until that passes while the request is being opened still ends it, with the stored events', async () => {
    const s = await newStream();
    const t0 = Date.now();
    await s.publish('create', t0 - 100);
    await s.publish('start', t0 - 50);
    // the gateway read the clock before opening; by the time the consumer exists, until is gone
    const sub = await source(s).open({ since: ms(t0 - 1000), until: ms(t0 + 1), filters: FilterArgs.empty() }, new Date(t0 - 500));
    await new Promise((r) => setTimeout(r, 100));
    const r = await drain(sub);
    expect(r.actions).toEqual(['create', 'start']);
    expect(r.endedAt - t0).toBeLessThan(2000);
  });

  it('live: ends when until comes, although events keep arriving, and sends only those up to until', async () => {
    const s = await newStream();
    const t0 = Date.now();
    await s.publish('before', t0 - 10);
    const until = t0 + 600;
    const sub = await source(s, { untilDrainMs: 10000 }).open({ since: ms(t0 - 1000), until: ms(until), filters: FilterArgs.empty() });
    let flooding = true;
    const flood = (async () => {
      let i = 0;
      while (flooding) {
        await s.publish(`live${i++}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const r = await drain(sub);
    flooding = false;
    await flood;
    expect(r.actions[0]).toBe('before');
    expect(r.actions.length).toBeGreaterThan(5);
    expect(r.endedAt).toBeGreaterThanOrEqual(until);
    expect(r.endedAt - until).toBeLessThan(2000);
    // every event sent was stamped no later than until
    const stamps = await lastStamps(s, r.actions.length);
    expect(stamps.every((t) => t <= until)).toBe(true);
  });

  it('a past until returns the stored events up to it and ends', async () => {
    const s = await newStream();
    const t0 = Date.now();
    await s.publish('a', t0 - 300);
    await s.publish('b', t0 - 200);
    await s.publish('c', t0 - 50);
    const sub = await source(s).open({ since: ms(t0 - 1000), until: ms(t0 - 100), filters: FilterArgs.empty() });
    const r = await drain(sub);
    expect(r.actions).toEqual(['a', 'b']);
  });

  it('a future until with no matching event and no stream yet ends when it comes', async () => {
    const s = { name: 'EVNONE', prefix: 'evnone.events' };
    const t0 = Date.now();
    const sub = await source(s).open({ until: ms(t0 + 300), filters: FilterArgs.empty() });
    const r = await drain(sub);
    expect(r.actions).toEqual([]);
    expect(r.endedAt - t0).toBeGreaterThanOrEqual(290);
    expect(r.endedAt - t0).toBeLessThan(2000);
  });

  it('a filter that matches nothing stored does not hold the request past until', async () => {
    const s = await newStream();
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await s.publish(`x${i}`, t0 - 100);
    const sub = await source(s, { untilDrainMs: 10000 }).open({ since: ms(t0 - 1000), until: ms(t0 + 200), filters: FilterArgs.fromJson('{"container":["nomatch"]}') });
    const r = await drain(sub);
    expect(r.actions).toEqual([]);
    expect(r.endedAt - t0).toBeLessThan(1500);
  });

  /** The timestamps of the first n messages of a stream, in ms. */
  async function lastStamps(s: { name: string }, n: number): Promise<number[]> {
    const jsm = await nc.jetstreamManager();
    const out: number[] = [];
    for (let seq = 1; seq <= n; seq++) {
      const m = await jsm.streams.getMessage(s.name, { seq });
      out.push((m.json<DockerEventMessage>().timeNano as number) / 1e6);
    }
    return out;
  }
});
