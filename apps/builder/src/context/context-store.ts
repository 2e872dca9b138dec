import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { UnavailableError } from '@drydock/errors';
import { httpCall, httpStream } from '@drydock/runtime';
import type { BuildJob } from '@drydock/build-jobs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Build contexts in the registry-proxy's blob store (OCI distribution, one repository per build). */
export class RegistryContextStore {
  constructor(
    private readonly baseUrl: string,
    private readonly retryWindowMs: number,
  ) {}

  private url(job: BuildJob): string {
    return `${this.baseUrl}/v2/${job.context.repository}/blobs/${job.context.digest}`;
  }

  /** Downloads the context blob; a registry-proxy that restarts meanwhile is waited for. */
  async download(job: BuildJob, file: string, signal: AbortSignal): Promise<void> {
    const until = Date.now() + this.retryWindowMs;
    for (;;) {
      try {
        const res = await httpStream(this.url(job), { method: 'GET', signal });
        if (res.statusCode !== 200) {
          res.resume();
          throw new UnavailableError(`context blob ${job.context.digest}: registry-proxy answered ${res.statusCode}`);
        }
        await pipeline(res, createWriteStream(file));
        return;
      } catch (err) {
        if (signal.aborted || Date.now() > until) throw err;
        await sleep(500);
      }
    }
  }

  async remove(job: BuildJob): Promise<void> {
    const res = await httpCall(this.url(job), { method: 'DELETE' });
    if (res.status !== 202 && res.status !== 404) throw new UnavailableError(`context blob removal: registry-proxy answered ${res.status}`);
  }
}
