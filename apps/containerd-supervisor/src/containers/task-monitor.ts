import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Logger } from '@drydock/logging';
import { ctrEvents, ctrTaskEvents } from '@drydock/proto';
import type { ContainerdClient } from '../containerd/containerd-client';
import { timestampToNs } from './record';

/** Delays of the extra reconcile passes after a resubscription (not after the first subscription). */
const FOLLOW_UP_RECONCILE_MS = [1000, 4000];

export interface TaskEventHandler {
  /** An init process exited (execId === containerId) or an exec process exited. */
  /** `pid`: the exited process's (0 when the event has none). */
  onExit(containerId: string, execId: string, exitStatus: number, exitedAtNs: string | undefined, pid: number): void;
  onOom(containerId: string): void;
  /** Called after every (re)subscription so missed events can be reconciled. */
  onResubscribed(): Promise<void>;
}

/**
 * Follows containerd's task events for the namespace. containerd drops the
 * stream when it dies; the monitor resubscribes with back-off and asks the
 * handler to reconcile, because exits that happened in the gap are not replayed.
 */
export class TaskMonitor {
  private stream?: ClientReadableStream<ctrEvents.Envelope>;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  private delayMs = 100;
  private subscriptions = 0;
  private followUp?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(private readonly cc: ContainerdClient, private readonly handler: TaskEventHandler, logger: Logger) {
    this.log = logger.child({ component: 'task-monitor' });
  }

  start(): void {
    this.subscribe();
  }

  private subscribe(): void {
    if (this.closed) return;
    const stream = this.cc.serverStream(this.cc.events, this.cc.events.subscribe, {
      filters: [`namespace==${this.cc.namespace},topic~="^/tasks/"`],
    });
    this.stream = stream;
    let reconciled = false;
    // The subscription is live once containerd answered with headers; reconcile only then.
    stream.on('metadata', () => {
      if (reconciled) return;
      reconciled = true;
      this.delayMs = 100;
      const resubscribed = this.subscriptions++ > 0;
      // A containerd that just restarted may still report a task as running whose exit its shim
      // failed to publish during the outage (the event is then lost): look again a little later.
      const passes = resubscribed ? FOLLOW_UP_RECONCILE_MS : [];
      const run = (i: number) => {
        if (this.stream !== stream || this.closed) return;
        this.handler
          .onResubscribed()
          .catch((err) => this.log.warn({ err }, 'reconcile failed'))
          .finally(() => {
            if (i < passes.length) this.followUp = setTimeout(() => run(i + 1), passes[i]);
          });
      };
      run(0);
    });
    stream.on('data', (env: ctrEvents.Envelope) => this.dispatch(env));
    const retry = (why: string, err?: unknown) => {
      if (this.stream !== stream || this.closed) return;
      this.stream = undefined;
      stream.removeAllListeners();
      stream.on('error', () => undefined);
      stream.cancel();
      this.log.warn({ err, delayMs: this.delayMs }, `event stream ${why}; resubscribing`);
      this.retryTimer = setTimeout(() => this.subscribe(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 2000);
    };
    stream.on('error', (err) => retry('failed', err));
    stream.on('end', () => retry('ended'));
  }

  private dispatch(env: ctrEvents.Envelope): void {
    const ev = env.event;
    if (!ev?.typeUrl || !ev.value) return;
    const value = Buffer.from(ev.value);
    try {
      if (ev.typeUrl.endsWith('containerd.events.TaskExit')) {
        const e = ctrTaskEvents.TaskExit.decode(value);
        this.handler.onExit(e.containerId ?? '', e.id ?? '', e.exitStatus ?? 0, timestampToNs(e.exitedAt), e.pid ?? 0);
      } else if (ev.typeUrl.endsWith('containerd.events.TaskOOM')) {
        const e = ctrTaskEvents.TaskOOM.decode(value);
        this.handler.onOom(e.containerId ?? '');
      }
    } catch (err) {
      this.log.warn({ err, topic: env.topic }, 'undecodable task event');
    }
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.followUp) clearTimeout(this.followUp);
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      s.removeAllListeners();
      s.on('error', () => undefined);
      s.cancel();
    }
  }
}
