/**
 * Child process of blob-cache.spec.ts's SIGKILL test: starts a fetch of the blob in
 * argv[3] into the cache at argv[2], served by a FakeUpstream held at byte argv[4], and
 * prints "held" once a reader has received every byte before the hold. The test then
 * kills it with SIGKILL: no close(), no cleanup, as a crash would.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '@drydock/logging';
import { BlobCache } from '../blob-cache';
import { FakeUpstream } from './fake-upstream';

async function main(): Promise<void> {
  const [dir, dataPath, holdAtArg] = process.argv.slice(2);
  const holdAt = Number(holdAtArg);
  const up = new FakeUpstream(readFileSync(dataPath)).plan({ holdAt });
  const cache = new BlobCache({ dir, maxBytes: 1024 ** 3, logger: createLogger({ service: 'child', level: 'silent' }), retryDelayMs: 0 });
  await cache.init();
  const { stream } = await cache.read(up.digest, { source: up.source });
  let received = 0;
  let told = false;
  stream.on('data', (c: Buffer) => {
    received += c.length;
    if (received >= holdAt && !told) {
      told = true;
      process.stdout.write('held\n');
    }
  });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
