import { randomUUID } from 'node:crypto';
import {
  DiscardPolicy,
  JSONCodec,
  NatsError,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { InvalidArgumentError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { DockerEvent } from './docker-event';
import { OrderedRetryQueue } from './ordered-retry-queue';

/** Where the supervisor's domain code reports events. Never blocks, never throws. */
export interface EventSink {
  /** Queues the event for delivery; call it only after the change is committed. */
  publish(event: DockerEvent): void;
  /** Delivers what it can within the sink's close timeout, then stops. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_EVENTS_STREAM = 'DRYDOCK_EVENTS';
/** Every node publishes under this prefix; the stream captures `drydock.events.>`. */
export const EVENTS_SUBJECT_PREFIX = 'drydock.events';

/** `drydock.events.<nodeId>.<type>`: consumers filter by node and/or type. */
export function eventSubject(nodeId: string, type: DockerEvent['Type']): string {
  return `${EVENTS_SUBJECT_PREFIX}.${nodeId}.${type}`;
}

export interface JetStreamEventSinkOptions {
  /** Shared connection; the sink does not own it and never closes it. */
  nc: NatsConnection;
  /** Subject token for this node: no `.`, `*`, `>` or whitespace. */
  nodeId: string;
  logger: Logger;
  streamName?: string;
  /** Stream retention by age. Default 7 days. */
  maxAgeMs?: number;
  /** Stream retention by count (oldest discarded). Default 1,000,000. */
  maxMsgs?: number;
  /**
   * JetStream de-duplication window for the msgID header. A retry of an event whose
   * ack was lost is dropped by the server only inside this window, so it bounds the
   * NATS outage after which a lost-ack event could be stored twice. Default 10 min.
   */
  duplicateWindowMs?: number;
  /** Events kept while NATS is unreachable; the oldest are dropped beyond it. Default 10,000. */
  maxQueued?: number;
  /** Deadline for one publish's ack. Default 5000 ms. */
  publishTimeoutMs?: number;
  /** Back-off between retries: doubles from min to max. Defaults 100 / 5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long close() keeps delivering queued events. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** JetStream replicas when this sink creates the stream (3 on a three-server cluster). Default 1. */
  replicas?: number;
}

interface QueuedEvent {
  subject: string;
  data: Uint8Array;
  /** Unique per event, constant across retries: JetStream drops the duplicates. */
  msgID: string;
}

const JS_STREAM_NOT_FOUND = 10059;
const JS_STREAM_NAME_IN_USE = 10058;
const SUBJECT_TOKEN = /^[^.*>\s]+$/;

/**
 * Publishes Docker events to a JetStream stream, in order, surviving NATS outages.
 *
 * publish() only enqueues. One worker sends the head of the queue and awaits the
 * JetStream ack before sending the next one, so the stream holds a node's events in
 * the order they happened. While NATS or JetStream is down the head is retried with
 * back-off; every attempt carries the same Nats-Msg-Id, so an event whose ack was lost
 * (stored, then the connection dropped) is not stored twice. nats.js also buffers
 * publishes made while disconnected and flushes them on reconnect; the msgID makes
 * those late copies harmless too.
 */
export class JetStreamEventSink implements EventSink {
  private readonly logger: Logger;
  private readonly js: JetStreamClient;
  private readonly queue: OrderedRetryQueue<QueuedEvent>;
  private readonly streamName: string;
  private readonly streamConfig: Partial<StreamConfig>;
  private readonly publishTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly codec = JSONCodec<DockerEvent>();
  private streamReady = false;
  private closed?: Promise<void>;

  constructor(private readonly opts: JetStreamEventSinkOptions) {
    if (!SUBJECT_TOKEN.test(opts.nodeId)) throw new InvalidArgumentError(`invalid node id for a NATS subject: ${JSON.stringify(opts.nodeId)}`);
    this.logger = opts.logger.child({ component: 'event-sink' });
    this.streamName = opts.streamName ?? DEFAULT_EVENTS_STREAM;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5000;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    const maxAgeMs = opts.maxAgeMs ?? 7 * 24 * 3600 * 1000;
    // The server rejects a duplicate window longer than max age.
    const duplicateWindowMs = Math.min(opts.duplicateWindowMs ?? 10 * 60 * 1000, maxAgeMs);
    this.streamConfig = {
      name: this.streamName,
      subjects: [`${EVENTS_SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(maxAgeMs),
      max_msgs: opts.maxMsgs ?? 1_000_000,
      duplicate_window: nanos(duplicateWindowMs),
      num_replicas: opts.replicas ?? 1,
    };
    this.js = opts.nc.jetstream({ timeout: this.publishTimeoutMs });
    this.queue = new OrderedRetryQueue<QueuedEvent>({
      send: (item) => this.send(item),
      logger: this.logger,
      maxItems: opts.maxQueued ?? 10_000,
      retryMinMs: opts.retryMinMs ?? 100,
      retryMaxMs: opts.retryMaxMs ?? 5000,
      onFailure: (err) => {
        // No responders: JetStream not (yet) serving the subject, e.g. the stream was
        // deleted or the server is still recovering. Re-check the stream next time.
        if (isNoResponders(err) || apiErrCode(err) === JS_STREAM_NOT_FOUND) this.streamReady = false;
      },
    });
  }

  publish(event: DockerEvent): void {
    try {
      this.queue.push({ subject: eventSubject(this.opts.nodeId, event.Type), data: this.codec.encode(event), msgID: randomUUID() });
    } catch (err) {
      // Never let event bookkeeping fail a container operation.
      this.logger.error({ err }, 'event not queued');
    }
  }

  /** Events waiting or in flight. */
  get pending(): number {
    return this.queue.size;
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Resolves true once every queued event is acked, false after timeoutMs. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.queue.drain(timeoutMs);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      const left = await this.queue.close(this.closeTimeoutMs);
      if (left > 0) this.logger.warn({ undelivered: left }, 'event sink closed with undelivered events');
    })();
    return this.closed;
  }

  private async send(item: QueuedEvent): Promise<void> {
    if (!this.streamReady) {
      await this.ensureStream();
      this.streamReady = true;
    }
    await this.js.publish(item.subject, item.data, {
      msgID: item.msgID,
      timeout: this.publishTimeoutMs,
      // Refuse to "succeed" into some other stream that happens to capture the subject.
      expect: { streamName: this.streamName },
    });
  }

  /** Creates the stream, or brings its limits to the configured ones. Several nodes race here. */
  private async ensureStream(): Promise<void> {
    const jsm: JetStreamManager = await this.opts.nc.jetstreamManager({ timeout: this.publishTimeoutMs });
    for (let attempt = 0; ; attempt++) {
      let info;
      try {
        info = await jsm.streams.info(this.streamName);
      } catch (err) {
        if (apiErrCode(err) !== JS_STREAM_NOT_FOUND) throw err;
        try {
          await jsm.streams.add(this.streamConfig);
          this.logger.info({ stream: this.streamName }, 'events stream created');
          return;
        } catch (addErr) {
          // Another node created it between our info and add: read it again.
          if (apiErrCode(addErr) === JS_STREAM_NAME_IN_USE && attempt < 3) continue;
          throw addErr;
        }
      }
      const c = info.config;
      const want = this.streamConfig;
      const subjects = c.subjects ?? [];
      const hasSubject = subjects.includes(want.subjects![0]);
      if (c.max_age !== want.max_age || c.max_msgs !== want.max_msgs || c.duplicate_window !== want.duplicate_window || !hasSubject) {
        await jsm.streams.update(this.streamName, {
          ...c,
          subjects: hasSubject ? subjects : [...subjects, ...want.subjects!],
          max_age: want.max_age!,
          max_msgs: want.max_msgs!,
          duplicate_window: want.duplicate_window!,
        });
        this.logger.info({ stream: this.streamName }, 'events stream limits updated');
      }
      return;
    }
  }
}

function apiErrCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

function isNoResponders(err: unknown): boolean {
  return err instanceof NatsError && err.code === '503';
}
