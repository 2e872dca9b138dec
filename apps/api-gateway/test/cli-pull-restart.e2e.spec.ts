// Restart without disruption, for pulls: the registry-proxy is SIGKILLed in the middle of a
// ~100 MB, 3-layer `docker pull` (one layer complete, the others partway) and started again.
// The pull completes, both when the running pull rides it out (the supervisor retries) and
// when the CLI gave up and the same `docker pull` is run again; upstream, every blob is
// fetched once in total (finished ones never again, the interrupted ones resumed with a
// Range), and the image runs with every layer's bytes intact.
//
// Size: the issue's ~100 MB (50 + 30 + 20 MB). The upstream is a real docker-registry behind
// @drydock/testing's RegistryTap throttling blob bodies to 5 MB/s per response and counting
// every request with its Range and the bytes it delivered, so a pull takes ~10 s and the kill lands
// mid-blob without huge images or timing guesses: the kill waits for the CLI's "Download
// complete" of the first layer and checks the others are partway.
import { buildLayeredImage, pushImage, RegistryTap, type LayeredImage } from '@drydock/testing';
import { useDockerStack, type CliProcess } from './support/stack';
import { eventually } from './support/expect';

const MB = 1e6;

describe('docker pull: registry-proxy SIGKILLed mid-pull', () => {
  const s = useDockerStack('e2ep');
  let tap: RegistryTap;
  /** Blob GETs of `digest` that reached the upstream, in order. */
  const gets = (digest: string) => tap.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));

  beforeAll(async () => {
    tap = await RegistryTap.start({ upstream: s.infra.registry!.url, mode: { match: /\/blobs\/sha256:/, bytesPerSecond: 5 * MB } });
  });
  afterAll(() => tap?.close());

  /** A fresh ~100 MB image (busybox + /layer-0.bin in the first layer) behind the tap. */
  async function freshImage(name: string): Promise<{ image: LayeredImage; ref: string }> {
    const image = await buildLayeredImage({ dir: s.dir(name), tag: '1', layerBytes: [50 * MB, 30 * MB, 20 * MB], busybox: true });
    await pushImage(image, `${s.registry}/restart/${name}:1`);
    return { image, ref: `${tap.host}/restart/${name}:1` };
  }

  const short = (digest: string) => digest.slice(7, 19);

  /**
   * Waits until the CLI printed "Download complete" for one layer while the others are still
   * coming in from upstream, then SIGKILLs the registry-proxy. Returns the finished layer.
   */
  async function killMidPull(pull: CliProcess, image: LayeredImage): Promise<string> {
    const done = await eventually(
      async () => image.layers.find((l) => pull.stdout().includes(`${short(l.digest)}: Download complete`))?.digest,
      (d) => d !== undefined,
      60000,
      'a layer to complete',
    );
    await s.killRegistryProxy();
    const partway = image.layers.filter((l) => l.digest !== done).map((l) => ({ digest: l.digest, got: gets(l.digest).reduce((n, g) => n + g.bytes, 0), size: l.size }));
    // the kill landed mid-blob: every other layer had started and was not finished
    for (const p of partway) expect({ ...p, partway: p.got > 0 && p.got < p.size }).toEqual({ ...p, partway: true });
    return done!;
  }

  /** Upstream, every blob came once: finished blobs not again, interrupted ones resumed with a Range. */
  function expectFetchedOnce(image: LayeredImage, finished: string): void {
    expect(gets(image.configDigest).length).toBe(1);
    const fin = gets(finished);
    expect(fin.map((g) => ({ status: g.status, range: g.range, bytes: g.bytes }))).toEqual([{ status: 200, range: undefined, bytes: image.layers.find((l) => l.digest === finished)!.size }]);
    for (const l of image.layers.filter((x) => x.digest !== finished)) {
      const mine = gets(l.digest);
      const total = mine.reduce((n, g) => n + g.bytes, 0);
      const summary = { layer: l.file, size: l.size, first: mine[0]?.range ?? 'whole', resumed: mine.slice(1).map((g) => `${g.status} ${g.range}`) };
      // the resumed GETs ask for the rest, and the bytes add up to ~1x (the slack: bytes in
      // flight in socket buffers when the proxy died, received but never written to disk)
      expect(summary).toEqual({ ...summary, first: 'whole', resumed: [expect.stringMatching(/^206 bytes=[1-9]\d*-$/)] });
      expect({ layer: l.file, total, within: total >= l.size && total <= l.size + 8 * MB }).toEqual({ layer: l.file, total, within: true });
    }
  }

  /** The image runs and every layer's file has the bytes that were written into it. */
  async function expectIntact(ref: string, image: LayeredImage): Promise<void> {
    const r = await s.docker(['run', '--rm', '--network', 'none', ref, '/bin/busybox', 'sha256sum', ...image.layers.map((l) => l.file)], { timeoutMs: 60000 });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toBe(image.layers.map((l) => `${l.fileSha256}  ${l.file}\n`).join(''));
  }

  it('the running pull completes after the restart (the supervisor retries), each blob fetched once upstream', async () => {
    const { image, ref } = await freshImage('ride');
    const pull = s.spawnCli(['pull', ref], { timeoutMs: 120000 });
    const finished = await killMidPull(pull, image);
    await s.startRegistryProxy();
    const r = await pull.done;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Status: Downloaded newer image for ${ref}`);
    expectFetchedOnce(image, finished);
    await expectIntact(ref, image);
  }, 180000);

  it('a pull whose CLI gave up completes when run again, each blob fetched once upstream', async () => {
    const { image, ref } = await freshImage('rerun');
    const pull = s.spawnCli(['pull', ref], { timeoutMs: 120000 });
    const finished = await killMidPull(pull, image);
    // the user gives up (the gateway cancels the pull), then tries again once the proxy is back
    pull.kill('SIGINT');
    await pull.done;
    await s.startRegistryProxy();
    const r = await s.docker(['pull', ref], { timeoutMs: 120000 });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Status: Downloaded newer image for ${ref}`);
    expectFetchedOnce(image, finished);
    await expectIntact(ref, image);
  }, 180000);
});
