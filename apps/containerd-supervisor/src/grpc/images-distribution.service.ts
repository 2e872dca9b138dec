import type { supervisorV1 } from '@drydock/proto';
import { NotImplementedError } from '@drydock/errors';
import type { Handlers } from './handlers';

/** Pull and push (drydock.supervisor.v1.Images): thin adapter over the distribution domain code. */
export function imageDistributionHandlers(h: Handlers): Pick<supervisorV1.ImagesServer, 'pullImage' | 'pushImage'> {
  return {
    pullImage: h.serverStream('PullImage', async function* (_req: supervisorV1.PullImageRequest): AsyncIterable<supervisorV1.ImageProgress> {
      throw new NotImplementedError('pull is not wired yet');
    }),
    pushImage: h.serverStream('PushImage', async function* (_req: supervisorV1.PushImageRequest): AsyncIterable<supervisorV1.ImageProgress> {
      throw new NotImplementedError('push is not wired yet');
    }),
  };
}
