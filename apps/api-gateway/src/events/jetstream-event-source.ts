import { DeliverPolicy, NatsError, type ConsumerMessages, type Consumer, type NatsConnection, type OrderedConsumerOptions } from 'nats';
import { UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { FilterArgs } from '../http/query';
import { eventMatches, type DockerEventMessage } from './event-filter';
import { eventNanos, nanosToIso } from './event-time';

/** What GET /events asks for; times in nanoseconds since the epoch. */
export interface EventQuery {
  since?: bigint;
  until?: bigint;
  filters: FilterArgs;
}

/** An open event stream: iterate `events`; close() stops the consumer (idempotent). */
export interface EventSubscription {
  events: AsyncIterable<DockerEventMessage>;
  close(): void;
}

/** The narrow interface the events route depends on. */
export interface EventSource {
  /** Fails (Unavailable) before anything is streamed when the event store cannot be reached. */
  open(query: EventQuery, now?: Date): Promise<EventSubscription>;
}

export interface JetStreamEventSourceOptions {
  nats: () => Promise<NatsConnection>;
  logger: Logger;
  /** Default DRYDOCK_EVENTS (the supervisors' event sink stream). */
  streamName?: string;
  /** Default `drydock.events` (subjects `<prefix>.<nodeId>.<type>`). */
  subjectPrefix?: string;
  /** How long to wait for a NATS connection before answering 503. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Deadline of each JetStream API call. Default 5000 ms. */
  apiTimeoutMs?: number;
  /** How often a live request re-checks for a stream that does not exist yet. Default 1000 ms. */
  streamPollMs?: number;
  /** Once `until` has come, how long the events stored before it may take to go out. Default 2000 ms. */
  untilDrainMs?: number;
  /** Adds to each event what the node that published it says (a cluster's node, as classic Swarm did). */
  decorate?: (ev: DockerEventMessage, nodeId: string) => DockerEventMessage;
}

const JS_STREAM_NOT_FOUND = 10059;
const EVENT_TYPES = new Set(['container', 'image', 'volume', 'network']);

/**
 * Serves Docker events from the JetStream stream the supervisors publish to, so
 * history survives gateway restarts. Each request gets its own ephemeral ordered
 * consumer starting at `since` (or at new messages); nats-server 2.9 consumers
 * take one filter subject, so the type is narrowed on the server only when the
 * request filters on exactly one type, everything else is filtered here.
 */
export class JetStreamEventSource implements EventSource {
  private readonly log: Logger;
  private readonly streamName: string;
  private readonly prefix: string;
  private readonly connectTimeoutMs: number;
  private readonly apiTimeoutMs: number;
  private readonly pollMs: number;
  private readonly untilDrainMs: number;

  constructor(private readonly opts: JetStreamEventSourceOptions) {
    this.log = opts.logger.child({ component: 'event-source' });
    this.streamName = opts.streamName ?? 'DRYDOCK_EVENTS';
    this.prefix = opts.subjectPrefix ?? 'drydock.events';
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.apiTimeoutMs = opts.apiTimeoutMs ?? 5000;
    this.pollMs = opts.streamPollMs ?? 1000;
    this.untilDrainMs = opts.untilDrainMs ?? 2000;
  }

  /** `drydock.events.*.<type>` when the filter names one type, else the whole stream. */
  subjectFor(filters: FilterArgs): string {
    const types = filters.get('type');
    return types.length === 1 && EVENT_TYPES.has(types[0]) ? `${this.prefix}.*.${types[0]}` : `${this.prefix}.>`;
  }

  async open(query: EventQuery, now: Date = new Date()): Promise<EventSubscription> {
    const nc = await this.connect();
    // dockerd: an `until` already past returns the stored events up to it and ends
    const onlyPast = query.until !== undefined && query.until < BigInt(now.getTime()) * 1_000_000n;
    let streamState: { last_seq: number; last_ts: string } | undefined;
    try {
      const jsm = await nc.jetstreamManager({ timeout: this.apiTimeoutMs });
      streamState = (await jsm.streams.info(this.streamName)).state;
    } catch (err) {
      if (!isStreamNotFound(err)) throw unavailable(err);
    }
    if (onlyPast && (!streamState || streamState.last_seq === 0 || (query.since !== undefined && Date.parse(streamState.last_ts) * 1e6 < Number(query.since)))) {
      return emptySubscription();
    }
    const decorate = this.opts.decorate;
    const prefix = this.prefix;
    const withNode = decorate ? (ev: DockerEventMessage, subject: string) => decorate(ev, subject.slice(prefix.length + 1).split('.')[0]) : undefined;
    const sub = new OrderedSubscription(nc, this.streamName, this.subjectFor(query.filters), query, this.apiTimeoutMs, this.pollMs, this.untilDrainMs, !!streamState, this.log, withNode);
    await sub.start().catch((err) => {
      sub.close();
      throw unavailable(err);
    });
    return sub;
  }

  private async connect(): Promise<NatsConnection> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no connection to NATS within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    });
    try {
      const nc = await Promise.race([this.opts.nats(), timeout]);
      if (nc.isClosed()) throw new Error('NATS connection is closed');
      return nc;
    } catch (err) {
      throw unavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }
}

class OrderedSubscription implements EventSubscription {
  private consumer?: Consumer;
  private messages?: ConsumerMessages;
  private closed = false;
  private wake?: () => void;
  /** Resolves on close(): a stopped pull does not always end a pending next(). */
  private readonly closedSignal: Promise<{ done: true; value: undefined }>;
  private signalClosed!: () => void;
  /** Stream sequence of the last message taken from the consumer. */
  private lastSeq = 0;
  /** Set once `until` has come: the stream sequence after which the request ends. */
  private endSeq?: number;
  private timers: NodeJS.Timeout[] = [];
  readonly events: AsyncIterable<DockerEventMessage>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly subject: string,
    private readonly q: EventQuery,
    private readonly apiTimeoutMs: number,
    private readonly pollMs: number,
    private readonly drainMs: number,
    private streamExists: boolean,
    private readonly log: Logger,
    private readonly decorate?: (ev: DockerEventMessage, subject: string) => DockerEventMessage,
  ) {
    this.closedSignal = new Promise((r) => (this.signalClosed = () => r({ done: true, value: undefined })));
    this.events = { [Symbol.asyncIterator]: () => this.iterate() };
  }

  /**
   * Creates the consumer now when the stream exists, so a failure is still an HTTP
   * error, then arms the `until` deadline. The deadline belongs to the subscription,
   * not to its caller: it is armed only once the consumer exists, from the clock, so
   * an `until` that passes while the consumer is being made still ends the request.
   */
  async start(): Promise<void> {
    if (this.streamExists) await this.createConsumer();
    if (this.q.until === undefined || this.closed) return;
    const untilMs = Number(this.q.until / 1_000_000n);
    this.timers.push(setTimeout(() => void this.reachUntil(), Math.max(0, untilMs - Date.now())));
  }

  private async createConsumer(): Promise<void> {
    const js = this.nc.jetstream({ timeout: this.apiTimeoutMs });
    const opts: Partial<OrderedConsumerOptions> = { filterSubjects: this.subject, inactive_threshold: 30_000 };
    // `until` without `since` replays the history, as dockerd replays its buffer. (nats.js'
    // ordered consumer hangs on DeliverPolicy.All with nats-server 2.9: start by time instead.)
    if (this.q.since !== undefined) opts.opt_start_time = nanosToIso(this.q.since);
    else if (this.q.until !== undefined) opts.opt_start_time = new Date(1000).toISOString();
    else opts.deliver_policy = DeliverPolicy.New;
    const consumer = await js.consumers.get(this.stream, opts);
    this.consumer = consumer;
    const messages = await consumer.consume({ max_messages: 256 });
    this.messages = messages;
    if (this.closed) messages.stop();
  }

  /**
   * `until` has come (dockerd's timer): what the stream held by now is still owed,
   * nothing after it. The consumer says how far that is; a bound of `drainMs` keeps
   * a slow replay from holding the request open past its time.
   */
  private async reachUntil(): Promise<void> {
    if (this.closed || this.endSeq !== undefined) return;
    this.timers.push(setTimeout(() => this.close(), this.drainMs));
    if (!this.consumer) return this.close();
    try {
      const ci = await this.consumer.info(true);
      if (ci.num_pending === 0) {
        this.endSeq = ci.delivered.stream_seq;
      } else {
        const jsm = await this.nc.jetstreamManager({ timeout: this.apiTimeoutMs });
        this.endSeq = (await jsm.streams.info(this.stream)).state.last_seq;
      }
    } catch (err) {
      this.log.warn({ err }, 'event stream position unknown at until: ending now');
      return this.close();
    }
    if (this.lastSeq >= this.endSeq) this.close();
  }

  private async *iterate(): AsyncGenerator<DockerEventMessage> {
    try {
      // a live request before any supervisor created the stream: wait for it
      while (!this.consumer && !this.closed) {
        const jsm = await this.nc.jetstreamManager({ timeout: this.apiTimeoutMs }).catch(() => undefined);
        const exists = jsm ? await jsm.streams.info(this.stream).then(() => true, () => false) : false;
        if (exists && !this.closed) {
          await this.createConsumer();
          break;
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.pollMs);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      if (this.closed || !this.consumer || !this.messages) return;
      // Iterated by hand: leaving a `for await` calls the iterator's return(), which in
      // nats.js waits for a consumer close that a stopped pull never delivers (hangs).
      const it = this.messages[Symbol.asyncIterator]();
      for (;;) {
        const next = await Promise.race([it.next(), this.closedSignal]);
        if (next.done || this.closed) return;
        const m = next.value;
        this.lastSeq = m.seq;
        let ev: DockerEventMessage | undefined;
        try {
          ev = m.json<DockerEventMessage>();
          if (this.decorate) ev = this.decorate(ev, m.subject);
        } catch (err) {
          this.log.warn({ err, seq: m.seq }, 'undecodable event skipped');
        }
        if (ev && this.wanted(ev)) yield ev;
        // past `until`: end at the position it found, or once nothing is pending
        if (this.endSeq !== undefined && (m.seq >= this.endSeq || m.info.pending === 0)) return;
      }
    } finally {
      this.close();
    }
  }

  private wanted(ev: DockerEventMessage): boolean {
    const t = eventNanos(ev.timeNano, ev.time);
    if (this.q.since !== undefined && t < this.q.since) return false;
    if (this.q.until !== undefined && t > this.q.until) return false;
    return eventMatches(this.q.filters, ev);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.wake?.();
    this.signalClosed();
    this.messages?.stop();
    // the ordered consumer is ephemeral; deleting it now spares the server the inactivity wait
    this.consumer?.delete().catch(() => undefined);
  }
}

function emptySubscription(): EventSubscription {
  return { events: { async *[Symbol.asyncIterator]() {} }, close: () => undefined };
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof NatsError && (err.api_error?.err_code === JS_STREAM_NOT_FOUND || err.message === 'stream not found');
}

function unavailable(err: unknown): UnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`events are not available: cannot reach the event store (NATS JetStream): ${reason}`, { cause: err });
}
