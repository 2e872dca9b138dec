import type { supervisorV1 } from '@drydock/proto';
import type { AllTagsPuller, ImagePuller, ImagePusher, Progress } from '../images/distribution';
import type { EventAdapter } from '../wiring/event-adapter';
import type { Handlers } from './handlers';

export interface DistributionDeps {
  puller: ImagePuller;
  pusher: ImagePusher;
  /** `docker pull --all-tags`. */
  allTags: AllTagsPuller;
  events: EventAdapter;
}

/** A domain progress message on the wire (also the plugins service's). */
export function toMessage(p: Progress): supervisorV1.ImageProgress {
  return {
    id: p.id,
    status: p.status,
    current: p.current !== undefined ? String(p.current) : undefined,
    total: p.total !== undefined ? String(p.total) : undefined,
    aux: p.aux ? { tag: p.aux.tag, digest: p.aux.digest, size: String(p.aux.size) } : undefined,
  };
}

/** Pull and push (drydock.supervisor.v1.Images): thin adapter over the distribution domain code. */
export function imageDistributionHandlers(h: Handlers, d: DistributionDeps): Pick<supervisorV1.ImagesServer, 'pullImage' | 'pushImage'> {
  return {
    pullImage: h.serverStream('PullImage', async function* (req: supervisorV1.PullImageRequest, signal): AsyncIterable<supervisorV1.ImageProgress> {
      const pr = { ref: req.ref ?? '', platform: req.platform || undefined, auth: req.registryAuth || undefined };
      const it = req.allTags ? d.allTags.pull(pr, signal) : d.puller.pull(pr, signal);
      for (;;) {
        const n = await it.next();
        if (n.done) {
          // dockerd's pull event (after the names are set): id = the familiar reference, name = the repository
          d.events.image('pull', n.value.reference, n.value.repository);
          return;
        }
        yield toMessage(n.value);
      }
    }),
    pushImage: h.serverStream('PushImage', async function* (req: supervisorV1.PushImageRequest, signal): AsyncIterable<supervisorV1.ImageProgress> {
      const it = d.pusher.push({ ref: req.ref ?? '', auth: req.registryAuth || undefined }, signal);
      for (;;) {
        const n = await it.next();
        if (n.done) {
          for (const t of n.value) d.events.image('push', t.reference, t.repository);
          return;
        }
        yield toMessage(n.value);
      }
    }),
  };
}
