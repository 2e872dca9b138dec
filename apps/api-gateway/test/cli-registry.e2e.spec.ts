// docker pull, push, login and search through the real docker CLI, against real docker-registry
// upstreams (one anonymous from the harness, one with htpasswd basic auth), with the
// registry-proxy and the supervisor in between. Expected texts were recorded from Docker
// Engine 20.10 against the same docker-registry.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildLayeredImage, pushImage, startTestInfra, type LayeredImage, type TestInfra } from '@drydock/testing';
import { useDockerStack, type CliResult } from './support/stack';
import { out } from './support/expect';

const short = (digest: string) => digest.slice('sha256:'.length, 'sha256:'.length + 12);

/** Statuses dockerd prints per layer in a non-TTY pull (progress lines are not printed without a terminal). */
const PULL_STATUSES = ['Pulling fs layer', 'Waiting', 'Verifying Checksum', 'Download complete', 'Pull complete', 'Already exists'];

/**
 * Checks the CLI's output of a pull that downloaded `layers`: the header line, per layer
 * "Pulling fs layer" ... "Download complete" ... "Pull complete" (interleaving between layers is
 * free, as in dockerd), then Digest, Status and the reference the CLI prints itself.
 */
function expectFreshPull(r: CliResult, o: { label: string; repo: string; ref: string; digest: string; layers: string[] }): void {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe(`${o.label}: Pulling from ${o.repo}`);
  expect(lines.slice(-3)).toEqual([`Digest: ${o.digest}`, `Status: Downloaded newer image for ${o.ref}`, o.ref]);
  const perLayer = new Map<string, string[]>();
  for (const l of lines.slice(1, -3)) {
    const m = /^([0-9a-f]{12}): (.*)$/.exec(l);
    expect({ line: l, matches: !!m && PULL_STATUSES.includes(m[2]) }).toEqual({ line: l, matches: true });
    perLayer.set(m![1], [...(perLayer.get(m![1]) ?? []), m![2]]);
  }
  expect([...perLayer.keys()].sort()).toEqual(o.layers.map(short).sort());
  for (const [id, statuses] of perLayer) {
    const key = statuses.filter((s) => s === 'Pulling fs layer' || s === 'Download complete' || s === 'Pull complete');
    expect({ id, key }).toEqual({ id, key: ['Pulling fs layer', 'Download complete', 'Pull complete'] });
  }
}

/**
 * A transparent HTTP forwarder between the supervisor and the registry-proxy that can hold
 * GETs of chosen blobs unanswered: a held request whose connection closes proves that the
 * supervisor gave up on the fetch (the client's disconnect reached it), without any timing.
 */
class BlobHolder {
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  private readonly holding = new Set<string>();
  private heldWaiter?: (held: { closed: Promise<void> }) => void;

  constructor(private readonly target: () => string) {}

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Holds the next GET of one of `digests`; resolves once it arrives, with a promise of its connection closing. */
  hold(digests: string[]): Promise<{ closed: Promise<void> }> {
    for (const d of digests) this.holding.add(d);
    return new Promise((r) => (this.heldWaiter = r));
  }

  release(): void {
    this.holding.clear();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    if (req.method === 'GET' && blob && this.holding.has(blob) && this.heldWaiter) {
      const waiter = this.heldWaiter;
      this.heldWaiter = undefined;
      // wrapped: resolving with a bare promise would wait for that promise instead
      waiter({ closed: new Promise<void>((r) => res.once('close', () => r())) });
      return;
    }
    const t = new URL(this.target());
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.once('close', () => up.destroy());
    req.pipe(up);
  }
}

describe('docker CLI: pull, push, login, search', () => {
  // registered before the stack's hooks: the supervisor reaches the registry-proxy through it
  const holder = new BlobHolder(() => s.registryProxyUrl);
  beforeAll(async () => {
    await holder.listen();
    // a held fetch must end because the pull was cancelled, never because the supervisor gave up on it
    s.supervisorEnv = { DRYDOCK_REGISTRY_PROXY_URL: holder.url, DRYDOCK_REGISTRY_IDLE_TIMEOUT_MS: String(3_600_000) };
  });
  afterAll(() => holder.close());
  const s = useDockerStack('e2er');
  let reg = '';
  let app!: LayeredImage;
  let appDigest = '';
  const work = () => s.dir('images');

  beforeAll(async () => {
    reg = s.registry;
    // busybox in the first layer (so it runs), 1 MB of random data in the second
    app = await buildLayeredImage({ dir: join(work(), 'app'), tag: '1', layerBytes: [256 * 1024, 1024 * 1024], busybox: true });
    appDigest = await pushImage(app, `${reg}/team/app:1`);
  }, 120000);

  describe('pull', () => {
    it('pulls by tag with per-layer progress, Digest and Status', async () => {
      const ref = `${reg}/team/app:1`;
      const r = await s.docker(['pull', ref], { timeoutMs: 120000 });
      expectFreshPull(r, { label: '1', repo: 'team/app', ref, digest: appDigest, layers: app.layers.map((l) => l.digest) });
    });

    it('pulls again: the image is up to date', async () => {
      const ref = `${reg}/team/app:1`;
      expect(out(await s.docker(['pull', ref]))).toEqual({ code: 0, stdout: `1: Pulling from team/app\nDigest: ${appDigest}\nStatus: Image is up to date for ${ref}\n${ref}\n`, stderr: '' });
    });

    it('pulls by digest (the label is the whole reference)', async () => {
      const ref = `${reg}/team/app@${appDigest}`;
      expect(out(await s.docker(['pull', ref]))).toEqual({ code: 0, stdout: `${ref}: Pulling from team/app\nDigest: ${appDigest}\nStatus: Image is up to date for ${ref}\n${ref}\n`, stderr: '' });
    });

    it('a fresh pull by digest downloads and names the image by digest only', async () => {
      const img = await buildLayeredImage({ dir: join(work(), 'bydigest'), tag: '1', layerBytes: [64 * 1024] });
      const digest = await pushImage(img, `${reg}/team/bydigest:1`);
      const ref = `${reg}/team/bydigest@${digest}`;
      expectFreshPull(await s.docker(['pull', ref], { timeoutMs: 120000 }), { label: ref, repo: 'team/bydigest', ref, digest, layers: img.layers.map((l) => l.digest) });
      const r = await s.docker(['image', 'inspect', '-f', '{{json .RepoTags}} {{json .RepoDigests}}', ref]);
      expect(out(r)).toEqual({ code: 0, stdout: `[] ["${reg}/team/bydigest@${digest}"]\n`, stderr: '' });
    });

    it('image inspect shows RepoTags and RepoDigests after a pull, and the layers as pushed', async () => {
      const r = await s.docker(['image', 'inspect', '-f', '{{json .RepoTags}} {{json .RepoDigests}} {{json .RootFS.Layers}}', `${reg}/team/app:1`]);
      expect(out(r)).toEqual({ code: 0, stdout: `["${reg}/team/app:1"] ["${reg}/team/app@${appDigest}"] ${JSON.stringify(app.layers.map((l) => l.diffId))}\n`, stderr: '' });
    });

    it('the pulled image runs: its files are the ones pushed', async () => {
      const f = app.layers[1];
      const r = await s.docker(['run', '--rm', '--network', 'none', `${reg}/team/app:1`, '/bin/busybox', 'sha256sum', f.file]);
      expect(out(r)).toEqual({ code: 0, stdout: `${f.fileSha256}  ${f.file}\n`, stderr: '' });
    });

    it('pull of an unknown tag or repository: the registry says manifest unknown', async () => {
      expect(out(await s.docker(['pull', `${reg}/team/app:nope`]))).toEqual({
        code: 1,
        stdout: '',
        stderr: `Error response from daemon: manifest for ${reg}/team/app:nope not found: manifest unknown: manifest unknown\n`,
      });
      expect(out(await s.docker(['pull', `${reg}/team/nope:1`]))).toEqual({
        code: 1,
        stdout: '',
        stderr: `Error response from daemon: manifest for ${reg}/team/nope:1 not found: manifest unknown: manifest unknown\n`,
      });
    });

    it('the API answers an unknown manifest with a 404 before any progress', async () => {
      const r = await s.raw('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg}/team/app`)}&tag=nope`, undefined, { 'X-Registry-Auth': 'e30=' });
      expect({ status: r.status, body: r.body }).toEqual({ status: 404, body: `{"message":"manifest for ${reg}/team/app:nope not found: manifest unknown: manifest unknown"}\n` });
    });

    it("the API streams dockerd's JSON lines, \\r\\n-separated, with progress bars for the bytes", async () => {
      const img = await buildLayeredImage({ dir: join(work(), 'raw'), tag: '1', layerBytes: [2 * 1024 * 1024] });
      const digest = await pushImage(img, `${reg}/team/raw:1`);
      const r = await s.raw('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg}/team/raw`)}&tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
      expect({ status: r.status, type: r.headers['content-type'] }).toEqual({ status: 200, type: 'application/json' });
      expect(r.body.endsWith('\r\n')).toBe(true);
      const lines = r.body.slice(0, -2).split('\r\n');
      const id = short(img.layers[0].digest);
      expect(lines[0]).toBe('{"status":"Pulling from team/raw","id":"1"}');
      expect(lines[1]).toBe(`{"status":"Pulling fs layer","progressDetail":{},"id":"${id}"}`);
      expect(lines.slice(-2)).toEqual([`{"status":"Digest: ${digest}"}`, `{"status":"Status: Downloaded newer image for ${reg}/team/raw:1"}`]);
      const size = img.layers[0].size;
      const downloading = lines.filter((l) => l.startsWith('{"status":"Downloading"'));
      expect(downloading.length).toBeGreaterThan(0);
      for (const l of downloading) {
        expect(l).toMatch(new RegExp(`^\\{"status":"Downloading","progressDetail":\\{"current":\\d+,"total":${size}\\},"progress":"\\[=*\\\\u003e *\\] +[0-9.]+[kM]?B/2\\.\\d+MB","id":"${id}"\\}$`));
      }
      expect(lines).toContain(`{"status":"Pull complete","progressDetail":{},"id":"${id}"}`);
      // dockerd's Extracting lines always carry bytes (none with current 0 at the start of an unpack)
      const extracting = lines.filter((l) => l.startsWith('{"status":"Extracting"'));
      expect(extracting.length).toBeGreaterThan(0);
      expect(extracting.filter((l) => !/"progressDetail":\{"current":[1-9]\d*,/.test(l))).toEqual([]);
    });

    it('a client that goes away mid-pull cancels it; the next pull completes', async () => {
      const img = await buildLayeredImage({ dir: join(work(), 'cancel'), tag: '1', layerBytes: [256 * 1024] });
      const digest = await pushImage(img, `${reg}/team/cancel:1`);
      const held = holder.hold([img.layers[0].digest]);
      const req = request({ socketPath: s.socket, method: 'POST', path: `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg}/team/cancel`)}&tag=1`, headers: { 'X-Registry-Auth': 'e30=' } });
      req.on('error', () => undefined);
      req.end();
      // the supervisor is fetching the layer (and waits for it): the client leaves
      const { closed } = await held;
      req.destroy();
      await closed;
      holder.release();
      const r = await s.docker(['pull', `${reg}/team/cancel:1`], { timeoutMs: 120000 });
      expect({ code: r.code, last: r.stdout.trimEnd().split('\n').slice(-3) }).toEqual({ code: 0, last: [`Digest: ${digest}`, `Status: Downloaded newer image for ${reg}/team/cancel:1`, `${reg}/team/cancel:1`] });
    });

    it("on a terminal the CLI redraws each layer's line from progressDetail and ends with the same lines", async () => {
      const img = await buildLayeredImage({ dir: join(work(), 'tty'), tag: '1', layerBytes: [1024 * 1024] });
      const digest = await pushImage(img, `${reg}/team/tty:1`);
      const r = await s.dockerTty(['pull', `${reg}/team/tty:1`], { timeoutMs: 120000 });
      expect(r.code).toBe(0);
      // each layer's line is redrawn in place (cursor up, clear line): one line per drawing here
      const lines = r.stdout
        .replace(/\x1b\[[0-9]*[A-Z]/g, '\n')
        .replace(/\r/g, '')
        .split('\n')
        .map((l) => l.trimEnd())
        .filter(Boolean);
      const id = short(img.layers[0].digest);
      expect(lines.some((l) => new RegExp(`^${id}: Downloading .*/1\\.\\d+MB$`).test(l))).toBe(true);
      expect(lines).toContain(`${id}: Pull complete`);
      expect(lines.slice(-3)).toEqual([`Digest: ${digest}`, `Status: Downloaded newer image for ${reg}/team/tty:1`, `${reg}/team/tty:1`]);
    });

    it('pull --all-tags pulls every tag: one block per tag, one Status for the repository', async () => {
      for (const t of ['x', 'y']) expect(await pushImage(app, `${reg}/team/every:${t}`)).toBe(appDigest);
      const repo = `${reg}/team/every`;
      const r = await s.docker(['pull', '--all-tags', repo], { timeoutMs: 120000 });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = r.stdout.trimEnd().split('\n');
      // the image is here already (team/app:1): dockerd skips its layers, per tag
      expect(lines.slice(0, 4).sort()).toEqual([`Digest: ${appDigest}`, `Digest: ${appDigest}`, 'x: Pulling from team/every', 'y: Pulling from team/every'].sort());
      expect(lines.slice(4)).toEqual([`Status: Downloaded newer image for ${repo}`, repo]);
      for (const t of ['x', 'y']) expect((await s.docker(['image', 'inspect', '-f', '{{.Id}}', `${repo}:${t}`])).stdout.trim()).toBe(app.configDigest);
      const again = await s.docker(['pull', '-a', repo]);
      expect(again.stdout.trimEnd().split('\n').slice(-2)).toEqual([`Status: Image is up to date for ${repo}`, repo]);
      expect(out(await s.docker(['pull', '-a', `${reg}/team/nosuch`]))).toEqual({
        code: 1,
        stdout: '',
        stderr: `Error response from daemon: repository ${reg}/team/nosuch not found: name unknown: repository name not known to registry\n`,
      });
    });

    it('pull --platform linux/amd64 of an amd64 image', async () => {
      const ref = `${reg}/team/app:1`;
      expect(out(await s.docker(['pull', '--platform', 'linux/amd64', ref]))).toEqual({ code: 0, stdout: `1: Pulling from team/app\nDigest: ${appDigest}\nStatus: Image is up to date for ${ref}\n${ref}\n`, stderr: '' });
    });

    it('pull --platform that containerd cannot parse: 400 in its words', async () => {
      expect(out(await s.docker(['pull', '--platform', 'bogus', `${reg}/team/app:1`]))).toEqual({
        code: 1,
        stdout: '',
        stderr: 'Error response from daemon: "bogus": unknown operating system or architecture: invalid argument\n',
      });
    });
  });

  describe('run of an image the node does not have', () => {
    let img!: LayeredImage;
    let digest = '';
    const ref = () => `${reg}/team/runme:1`;

    beforeAll(async () => {
      img = await buildLayeredImage({ dir: join(work(), 'runme'), tag: '1', layerBytes: [128 * 1024, 64 * 1024], busybox: true });
      digest = await pushImage(img, `${reg}/team/runme:1`);
    }, 120000);

    it('--pull never fails with No such image', async () => {
      const r = await s.docker(['run', '--rm', '--pull', 'never', ref(), 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(`docker: Error response from daemon: No such image: ${ref()}\n\nRun 'docker run --help' for more information\n`);
    });

    it('pulls it first (the progress goes to stderr), then runs it', async () => {
      const f = img.layers[1];
      const r = await s.docker(['run', '--rm', '--network', 'none', ref(), '/bin/busybox', 'sha256sum', f.file], { timeoutMs: 120000 });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${f.fileSha256}  ${f.file}\n` });
      const err = r.stderr.trimEnd().split('\n');
      expect(err[0]).toBe(`Unable to find image '${ref()}' locally`);
      expectFreshPull({ code: 0, stderr: '', stdout: err.slice(1).join('\n') + `\n${ref()}\n`, timedOut: false }, { label: '1', repo: 'team/runme', ref: ref(), digest, layers: img.layers.map((l) => l.digest) });
    });

    it('--pull always pulls an image it has (up to date), then runs it', async () => {
      const r = await s.docker(['run', '--rm', '--network', 'none', '--pull', 'always', ref(), 'true']);
      expect(out(r)).toEqual({ code: 0, stdout: '', stderr: `1: Pulling from team/runme\nDigest: ${digest}\nStatus: Image is up to date for ${ref()}\n` });
    });

    it('run --platform linux/amd64 pulls the missing image for that platform', async () => {
      const other = await buildLayeredImage({ dir: join(work(), 'plat'), tag: '1', layerBytes: [32 * 1024], busybox: true });
      await pushImage(other, `${reg}/team/plat:1`);
      const r = await s.docker(['run', '--rm', '--network', 'none', '--platform', 'linux/amd64', `${reg}/team/plat:1`, 'cat', '/layer-0.bin'], { timeoutMs: 120000 });
      expect({ code: r.code, bytes: r.stdout.length > 0 }).toEqual({ code: 0, bytes: true });
      expect(r.stderr.split('\n')[0]).toBe(`Unable to find image '${reg}/team/plat:1' locally`);
    });
  });

  describe('push', () => {
    const ref = () => `${reg}/team/pushed:1`;
    let pushedDigest = '';
    let diffId = '';
    let pushedLayers: string[] = [];

    it('push of a tag it does not have', async () => {
      expect(out(await s.docker(['push', `${reg}/team/none:1`]))).toEqual({
        code: 1,
        stdout: `The push refers to repository [${reg}/team/none]\n`,
        stderr: `An image does not exist locally with the tag: ${reg}/team/none\n`,
      });
    });

    it('pushes a local image with per-layer progress and the digest line', async () => {
      expect((await s.docker(['tag', 'busybox', ref()])).code).toBe(0);
      diffId = (await s.docker(['image', 'inspect', '-f', '{{index .RootFS.Layers 0}}', 'busybox'])).stdout.trim();
      const r = await s.docker(['push', ref()], { timeoutMs: 120000 });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`The push refers to repository [${reg}/team/pushed]`);
      expect(lines.filter((l) => l.startsWith(`${short(diffId)}: `) && !l.endsWith(': Waiting'))).toEqual([`${short(diffId)}: Preparing`, `${short(diffId)}: Pushed`]);
      const m = /^1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(lines[lines.length - 1]);
      expect(m).not.toBeNull();
      pushedDigest = m![1];
      // the registry has exactly that manifest under the tag
      const manifest = execFileSync('curl', ['-sf', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `http://${reg}/v2/team/pushed/manifests/1`]);
      expect({ digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`, size: manifest.length }).toEqual({ digest: pushedDigest, size: Number(m![2]) });
      pushedLayers = (JSON.parse(manifest.toString()) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    });

    it('image inspect lists the pushed digest in RepoDigests', async () => {
      const r = await s.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref()]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toContain(`${reg}/team/pushed@${pushedDigest}`);
    });

    it('push again: Layer already exists, same digest', async () => {
      const r = await s.docker(['push', ref()]);
      expect(out(r)).toEqual({
        code: 0,
        stdout: `The push refers to repository [${reg}/team/pushed]\n${short(diffId)}: Preparing\n${short(diffId)}: Layer already exists\n1: digest: ${pushedDigest} size: ${/size: (\d+)/.exec(r.stdout)?.[1]}\n`,
        stderr: '',
      });
    });

    it('push of a tag the repository does not have: tag does not exist', async () => {
      expect(out(await s.docker(['push', `${reg}/team/pushed:nope`]))).toEqual({
        code: 1,
        stdout: `The push refers to repository [${reg}/team/pushed]\n`,
        stderr: `tag does not exist: ${reg}/team/pushed:nope\n`,
      });
    });

    it('push to a registry nobody answers fails at once with the connection error, no layer line (the proxy has the blobs cached)', async () => {
      expect((await s.docker(['tag', ref(), '127.0.0.1:1/team/gone:1'])).code).toBe(0);
      expect(out(await s.docker(['push', '127.0.0.1:1/team/gone:1']))).toEqual({
        code: 1,
        stdout: 'The push refers to repository [127.0.0.1:1/team/gone]\n',
        stderr: 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n',
      });
      expect((await s.docker(['rmi', '127.0.0.1:1/team/gone:1'])).code).toBe(0);
    });

    it('round trip: rmi until the image is gone, pull it back, run it', async () => {
      expect((await s.docker(['rmi', ref(), 'busybox:latest'])).code).toBe(0);
      expect((await s.docker(['image', 'inspect', ref()])).code).toBe(1);
      const r = await s.docker(['pull', ref()], { timeoutMs: 120000 });
      expectFreshPull(r, { label: '1', repo: 'team/pushed', ref: ref(), digest: pushedDigest, layers: pushedLayers });
      expect(out(await s.docker(['run', '--rm', '--network', 'none', ref(), 'echo', 'round trip']))).toEqual({ code: 0, stdout: 'round trip\n', stderr: '' });
    });

    it('push --all-tags pushes every tag of the repository', async () => {
      for (const t of ['a', 'b']) expect((await s.docker(['tag', ref(), `${reg}/team/multi:${t}`])).code).toBe(0);
      const r = await s.docker(['push', '--all-tags', `${reg}/team/multi`], { timeoutMs: 120000 });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout.split('\n')[0]).toBe(`The push refers to repository [${reg}/team/multi]`);
      const digests = r.stdout.split('\n').filter((l) => /^[ab]: digest: /.test(l));
      expect(digests.map((l) => l.replace(/ size: \d+$/, '')).sort()).toEqual([`a: digest: ${pushedDigest}`, `b: digest: ${pushedDigest}`]);
    });

    it('push without credentials through the API: dockerd 400', async () => {
      const r = await s.raw('POST', `/v1.41/images/${ref().replace(/:1$/, '')}/push?tag=1`);
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: '{"message":"Bad parameters and missing X-Registry-Auth: EOF"}\n' });
    });

    it('push streams the aux result for the tag', async () => {
      const r = await s.raw('POST', `/v1.41/images/${ref().replace(/:1$/, '')}/push?tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
      expect(r.status).toBe(200);
      const size = /size: (\d+)/.exec(r.body)?.[1];
      expect(r.body.split('\r\n').slice(-3)).toEqual([`{"status":"1: digest: ${pushedDigest} size: ${size}"}`, `{"progressDetail":{},"aux":{"Tag":"1","Digest":"${pushedDigest}","Size":${size}}}`, '']);
    });
  });

  describe('login, and pulls that need it', () => {
    let auth!: TestInfra;
    let host = '';
    let secretDigest = '';
    const password = 'pw-Zq81xK-never-stored';
    const config = (name: string) => {
      const d = s.dir(`docker-config-${name}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'config.json'), '{}\n');
      return { DOCKER_CONFIG: d };
    };

    beforeAll(async () => {
      auth = await startTestInfra({ registry: { htpasswd: { users: { alice: password } } }, name: 'e2er-auth' });
      host = auth.registry!.host;
      const img = await buildLayeredImage({ dir: join(work(), 'secret'), tag: '1', layerBytes: [64 * 1024], busybox: true });
      secretDigest = await pushImage(img, `${host}/team/secret:1`, { creds: { username: 'alice', password } });
    }, 120000);
    afterAll(async () => {
      await auth?.stop();
    });

    it('login with the right password: Login Succeeded, the CLI keeps the credentials itself', async () => {
      const env = config('ok');
      const r = await s.docker(['login', host, '-u', 'alice', '--password-stdin'], { input: `${password}\n`, env });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'Login Succeeded\n' });
      const saved = JSON.parse(readFileSync(join(env.DOCKER_CONFIG, 'config.json'), 'utf8'));
      expect(saved.auths[host].auth).toBe(Buffer.from(`alice:${password}`).toString('base64'));
    });

    it('login with a wrong password: the registry refuses', async () => {
      const r = await s.docker(['login', host, '-u', 'alice', '--password-stdin'], { input: 'wrong\n', env: config('bad') });
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: login attempt to http://${host}/v2/ failed with status: 401 Unauthorized\n` });
    });

    it("POST /auth answers dockerd's bodies", async () => {
      const ok = await s.raw('POST', '/v1.41/auth', JSON.stringify({ username: 'alice', password, serveraddress: host }));
      expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: '{"IdentityToken":"","Status":"Login Succeeded"}\n' });
      const bad = await s.raw('POST', '/v1.41/auth', 'garbage');
      // dockerd 20.10 answers 500 with the same text; a malformed body is the client's fault: 400
      expect({ status: bad.status, body: bad.body }).toEqual({ status: 400, body: `{"message":"invalid character 'g' looking for beginning of value"}\n` });
    });

    it('login against an anonymous registry succeeds, as with dockerd', async () => {
      const r = await s.docker(['login', reg, '-u', 'anyone', '--password-stdin'], { input: 'x\n', env: config('anon') });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'Login Succeeded\n' });
    });

    it('pull without credentials: no basic auth credentials', async () => {
      const r = await s.docker(['pull', `${host}/team/secret:1`], { env: config('none') });
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: Head "http://${host}/v2/team/secret/manifests/1": no basic auth credentials\n` });
    });

    it('pull after login uses the stored credentials', async () => {
      const env = config('pull');
      expect((await s.docker(['login', host, '-u', 'alice', '--password-stdin'], { input: `${password}\n`, env })).code).toBe(0);
      const r = await s.docker(['pull', `${host}/team/secret:1`], { env, timeoutMs: 120000 });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout.trimEnd().split('\n').slice(-3)).toEqual([`Digest: ${secretDigest}`, `Status: Downloaded newer image for ${host}/team/secret:1`, `${host}/team/secret:1`]);
    });

    it('Drydock never stores the password: no file of the stack holds it', () => {
      // the CLI's own config dirs (work/docker-config-*) are the client's business
      const hits = execFileSync('sh', ['-c', `grep -rlaF -e "$PW" "$DIR" --exclude-dir=docker-config-ok --exclude-dir=docker-config-pull || true`], {
        env: { ...process.env, PW: password, DIR: s.infra.dir },
        encoding: 'utf8',
      });
      expect(hits.trim().split('\n').filter(Boolean)).toEqual([]);
    });
  });

  describe('search', () => {
    it('a registry without search: the error dockerd gives', async () => {
      expect(out(await s.docker(['search', `${reg}/busybox`]))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: Unexpected status code 404\n' });
    });

    it('parameters are checked as dockerd does', async () => {
      const r = await s.raw('GET', `/v1.41/images/search?term=${encodeURIComponent(`${reg}/busybox`)}&limit=200`);
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: '{"message":"Limit 200 is outside the range of [1, 100]"}\n' });
      const f = await s.raw('GET', `/v1.41/images/search?term=x&filters=${encodeURIComponent('{"foo":{"x":true}}')}`);
      expect({ status: f.status, body: f.body }).toEqual({ status: 400, body: `{"message":"Invalid filter 'foo'"}\n` });
    });
  });

  describe('events', () => {
    it('pull and push appear as image events', async () => {
      const r = await s.docker(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines).toContain(`pull ${reg}/team/app:1 ${reg}/team/app`);
      expect(lines).toContain(`push ${reg}/team/pushed:1 ${reg}/team/pushed`);
    });
  });
});
