import type { ContainerEvents } from '../containers/ports';
import { containerEvent, imageEvent, networkEvent, type ContainerAction, type DockerEvent, type ImageAction, type NetworkAction } from '../events/docker-event';
import type { EventSink } from '../events/event-sink';

/**
 * Stamps Docker-shaped events at the moment of the change and hands them to the
 * sink; until the sink exists (NATS not reached yet at boot) they wait here in order.
 */
export class EventAdapter implements ContainerEvents {
  private sink?: EventSink;
  private pending: DockerEvent[] = [];
  private static readonly maxPending = 10000;

  container(action: string, c: { id: string; name: string; image: string; labels: Record<string, string> }, extra?: Record<string, string>): void {
    this.publish(containerEvent(action as ContainerAction, { id: c.id, name: c.name, image: c.image, labels: c.labels, attributes: extra }));
  }

  image(action: ImageAction, id: string, name?: string, labels?: Record<string, string>): void {
    this.publish(imageEvent(action, { id, name, labels }));
  }

  network(action: NetworkAction, n: { id: string; name: string; driver: string }, containerId?: string): void {
    this.publish(networkEvent(action, { ...n, container: containerId }));
  }

  attach(sink: EventSink): void {
    this.sink = sink;
    for (const e of this.pending.splice(0)) sink.publish(e);
  }

  private publish(e: DockerEvent): void {
    if (this.sink) {
      this.sink.publish(e);
      return;
    }
    if (this.pending.length >= EventAdapter.maxPending) this.pending.shift();
    this.pending.push(e);
  }
}

/** Container events to the sink and to a second listener (the cluster's directory sync). */
export function teeContainerEvents(first: ContainerEvents, second: ContainerEvents): ContainerEvents {
  return {
    container(action, c, extra) {
      first.container(action, c, extra);
      second.container(action, c, extra);
    },
  };
}
