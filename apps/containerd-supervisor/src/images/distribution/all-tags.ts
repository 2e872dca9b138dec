import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { parseNormalizedNamed, withTag } from '../reference';
import type { ImagePuller, PullRequest, PullResult } from './puller';
import type { Progress } from './progress';
import type { RegistryClient } from './registry-client';
import { translatePullError } from './registry-errors';
import { withRetry } from './retry';

/** What listing needs of the registry-proxy client. */
export type TagSource = Pick<RegistryClient, 'listTags'>;

/**
 * `docker pull --all-tags` (moby's pullV2Repository with a name-only reference):
 * lists the repository's tags (in the registry's order) and pulls each one with
 * the ordinary pull's messages, except that the closing "Status:" line is written
 * once, for the repository, saying "Downloaded newer image" when any tag brought
 * something new. The first failing tag fails the whole pull, as in dockerd.
 */
export class AllTagsPuller {
  private readonly log: Logger;

  constructor(
    private readonly puller: Pick<ImagePuller, 'pull'>,
    private readonly tags: TagSource,
    logger: Logger,
    private readonly opts: { retryWindowMs: number },
  ) {
    this.log = logger.child({ component: 'all-tags-puller' });
  }

  /** `req.ref` names the repository only. Returns the result dockerd's pull event reports: the repository. */
  async *pull(req: PullRequest, signal: AbortSignal): AsyncGenerator<Progress, PullResult> {
    const repo = parseNormalizedNamed(req.ref);
    if (repo.tag !== undefined || repo.digest !== undefined) throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
    let tags: string[];
    try {
      tags = await withRetry(() => this.tags.listTags(repo.name, { auth: req.auth || undefined, signal }), { windowMs: this.opts.retryWindowMs, signal, upstreamUnavailable: false });
    } catch (err) {
      throw signal.aborted ? new UnavailableError('pull cancelled by the client', { cause: err }) : translatePullError(err, repo);
    }
    this.log.info({ repository: repo.name, tags: tags.length }, 'pulling every tag');
    let updated = false;
    let imageId = '';
    for (const tag of tags) {
      const it = this.puller.pull({ ...req, ref: withTag(repo, tag).toString() }, signal);
      for (;;) {
        const n = await it.next();
        if (n.done) {
          updated ||= n.value.updated;
          imageId = n.value.imageId;
          break;
        }
        // The per-tag verdict gives way to the repository's, below.
        if (n.value.id === '' && n.value.status.startsWith('Status: ')) continue;
        yield n.value;
      }
    }
    yield { id: '', status: `Status: ${updated ? 'Downloaded newer image for' : 'Image is up to date for'} ${repo.familiarName}` };
    return { reference: repo.familiarName, repository: repo.familiarName, imageId, updated };
  }
}
