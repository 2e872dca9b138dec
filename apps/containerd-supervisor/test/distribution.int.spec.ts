import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { RegistryProcess } from '@drydock/infra';
import { connect, JSONCodec } from 'nats';
import type { supervisorV1 } from '@drydock/proto';
import { buildBusyboxRootfsTar, ctr } from '@drydock/testing';
import { SupervisorHarness } from './support/harness';
import { imageOf, indexOf, layerOf, putManifest, startStallingForwarder, tarOf, uploadImage, type TestImage } from './support/registry-fixtures';

/**
 * PullImage and PushImage end to end: gRPC client -> supervisor -> registry-proxy
 * (built from the tree) -> docker-registry, with a real containerd. Images are
 * written by hand and uploaded to the registry directly.
 */
describe('PullImage / PushImage (supervisor -> registry-proxy -> docker-registry)', () => {
  const h = new SupervisorHarness();
  let host: string;
  let registryUrl: string;
  let authRegistry: RegistryProcess;
  let base: TestImage;
  let child: TestImage;
  const basicAuth = (u: string, p: string) => Buffer.from(JSON.stringify({ username: u, password: p, serveraddress: authRegistry.host })).toString('base64url');

  type Msg = supervisorV1.ImageProgress;
  function collect(stream: ClientReadableStream<Msg>, onMessage?: (m: Msg, all: Msg[]) => void): Promise<Msg[]> {
    return new Promise((resolve, reject) => {
      const out: Msg[] = [];
      stream.on('data', (m: Msg) => {
        out.push(m);
        onMessage?.(m, out);
      });
      stream.on('error', (err: ServiceError) => reject(Object.assign(err, { messages: out })));
      stream.on('end', () => resolve(out));
    });
  }
  const pull = (ref: string, extra: Partial<supervisorV1.PullImageRequest> = {}) => collect(h.images.pullImage({ ref, platform: '', registryAuth: '', ...extra }));
  const push = (ref: string, registryAuth = '') => collect(h.images.pushImage({ ref, registryAuth }));
  const lines = (ms: Msg[]) => ms.map((m) => (m.id ? `${m.id} ${m.status}` : m.status || `aux ${m.aux?.tag} ${m.aux?.digest} ${m.aux?.size}`));
  const inspect = (ref: string): Promise<supervisorV1.InspectImageResponse> => h.call(h.images, h.images.inspectImage, { ref });
  const ctrLines = async (args: string[]) => (await ctr(h.infra.containerd!.address, args, 'drydock')).split('\n').map((l) => l.trim()).filter(Boolean).sort();
  const snapshotState = async () => ({ images: await ctrLines(['images', 'ls', '-q']), content: await ctrLines(['content', 'ls', '-q']) });

  beforeAll(async () => {
    await h.setup({ registry: true, registryProxy: true });
    host = h.infra.registry!.host;
    registryUrl = h.infra.registry!.url;
    authRegistry = new RegistryProcess({ dir: join(h.infra.dir, 'auth-registry'), htpasswd: { users: { alice: 'secret' } }, dieWithParent: true });
    await authRegistry.start();

    const bb = await buildBusyboxRootfsTar(join(h.infra.dir, 'rootfs.tar'));
    const bbLayer = layerOf(await readFile(bb.path));
    base = imageOf([bbLayer]);
    child = imageOf([bbLayer, layerOf(await tarOf({ 'hello.txt': 'hello from a pulled layer\n' }))], { cmd: ['/bin/cat', '/hello.txt'] });
    await uploadImage(registryUrl, 'team/base', 'v1', base);
    await uploadImage(registryUrl, 'team/child', 'v1', child);
  }, 300000);

  afterAll(async () => {
    await authRegistry?.stop();
    await h.teardown();
  }, 120000);

  it('pulls by tag through the proxy with Docker progress; inspect shows RepoDigests', async () => {
    const ms = await pull(`${host}/team/base:v1`);
    const id = base.layers[0].digest.slice(7, 19);
    const s = lines(ms);
    expect(s[0]).toBe('v1 Pulling from team/base');
    for (const st of ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']) expect(s).toContain(`${id} ${st}`);
    expect(s.slice(-2)).toEqual([`Digest: ${base.manifestDigest}`, `Status: Downloaded newer image for ${host}/team/base:v1`]);
    const dl = ms.filter((m) => m.status === 'Downloading');
    expect(dl[dl.length - 1]).toMatchObject({ current: String(base.layers[0].gz.length), total: String(base.layers[0].gz.length) });
    // dockerd's Extracting lines always carry bytes: never a 0 at the start of an unpack.
    const ex = ms.filter((m) => m.status === 'Extracting');
    expect(ex.length).toBeGreaterThan(0);
    expect(ex.filter((m) => !(Number(m.current) > 0))).toEqual([]);

    const info = await inspect(`${host}/team/base:v1`);
    expect(info).toMatchObject({ id: base.configDigest, repoTags: [`${host}/team/base:v1`], repoDigests: [`${host}/team/base@${base.manifestDigest}`] });
  });

  it('answers "Image is up to date" on a repeat', async () => {
    expect(lines(await pull(`${host}/team/base:v1`))).toEqual([
      'v1 Pulling from team/base',
      `Digest: ${base.manifestDigest}`,
      `Status: Image is up to date for ${host}/team/base:v1`,
    ]);
  });

  it('shows "Already exists" for a shared layer, and runs a container from the pulled image', async () => {
    const s = lines(await pull(`${host}/team/child:v1`));
    expect(s).toContain(`${child.layers[0].digest.slice(7, 19)} Already exists`);
    expect(s).toContain(`${child.layers[1].digest.slice(7, 19)} Pull complete`);
    const { id } = await h.c('createContainer', { config: { image: `${host}/team/child:v1` }, hostConfig: {} });
    await h.c('startContainer', { id });
    expect(await h.wait(id)).toBe(0);
    expect((await h.logs(id)).stdout).toBe('hello from a pulled layer\n');
    await h.c('removeContainer', { id, force: true });
  });

  it('pulls by digest and records only the digest name', async () => {
    const img = imageOf([layerOf(await tarOf({ 'digest.txt': 'by digest\n' }))]);
    await uploadImage(registryUrl, 'team/bydigest', undefined, img);
    const ref = `${host}/team/bydigest@${img.manifestDigest}`;
    const s = lines(await pull(ref));
    expect(s[0]).toBe(`${ref} Pulling from team/bydigest`);
    expect(s[s.length - 1]).toBe(`Status: Downloaded newer image for ${ref}`);
    expect(await inspect(ref)).toMatchObject({ id: img.configDigest, repoTags: [], repoDigests: [ref] });
  });

  it('picks the requested platform from an index (default: the node\'s)', async () => {
    const amd = imageOf([layerOf(await tarOf({ 'arch.txt': 'amd64\n' }))], { arch: 'amd64' });
    const arm = imageOf([layerOf(await tarOf({ 'arch.txt': 'arm64\n' }))], { arch: 'arm64', variant: 'v8' });
    await uploadImage(registryUrl, 'team/multi', undefined, amd);
    await uploadImage(registryUrl, 'team/multi', undefined, arm);
    const idx = indexOf([
      { image: amd, arch: 'amd64' },
      { image: arm, arch: 'arm64', variant: 'v8' },
    ]);
    await putManifest(registryUrl, 'team/multi', 'v1', idx.body, idx.mediaType);

    const arm64 = lines(await pull(`${host}/team/multi:v1`, { platform: 'linux/arm64' }));
    expect(arm64.slice(-2)).toEqual([`Digest: ${idx.digest}`, `Status: Downloaded newer image for ${host}/team/multi:v1`]);
    expect(await inspect(`${host}/team/multi:v1`)).toMatchObject({ id: arm.configDigest, architecture: 'arm64', repoDigests: [`${host}/team/multi@${idx.digest}`] });

    await pull(`${host}/team/multi:v1`);
    expect(await inspect(`${host}/team/multi:v1`)).toMatchObject({ id: amd.configDigest, architecture: 'amd64' });
    const list: supervisorV1.ListImagesResponse = await h.call(h.images, h.images.listImages, { all: false, filters: [] });
    expect(list.images?.find((i) => i.id === amd.configDigest)?.repoTags).toEqual([`${host}/team/multi:v1`]);

    await expect(pull(`${host}/team/multi:v1`, { platform: 'linux/s390x' })).rejects.toMatchObject({
      code: status.INTERNAL,
      details: 'no matching manifest for linux/s390x in the manifest list entries',
      messages: [],
    });
  });

  it('fails before any progress, in dockerd\'s words, leaving no image and no content', async () => {
    const before = await snapshotState();
    const cases: [string, Partial<supervisorV1.PullImageRequest>, number, string | RegExp][] = [
      [`${host}/team/base:nope`, {}, status.NOT_FOUND, `manifest for ${host}/team/base:nope not found: manifest unknown: manifest unknown`],
      [`${host}/no/such:v1`, {}, status.NOT_FOUND, /^(manifest for|repository) /],
      [`${host}/team/UPPER:v1`, {}, status.INVALID_ARGUMENT, 'invalid reference format: repository name must be lowercase'],
      ['127.0.0.1:1/x:latest', {}, status.INTERNAL, 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'],
      [`${authRegistry.host}/team/base:v1`, {}, status.INTERNAL, `Head "http://${authRegistry.host}/v2/team/base/manifests/v1": no basic auth credentials`],
      [`${authRegistry.host}/team/base:v1`, { registryAuth: basicAuth('alice', 'wrong') }, status.INTERNAL, 'unauthorized: authentication required'],
    ];
    for (const [ref, extra, code, text] of cases) {
      const err = await pull(ref, extra).then(
        () => undefined,
        (e: ServiceError & { messages: Msg[] }) => e,
      );
      expect({ ref, code: err?.code, messages: err?.messages }).toEqual({ ref, code, messages: [] });
      if (typeof text === 'string') expect(err!.details).toBe(text);
      else expect(err!.details).toMatch(text);
    }
    expect(await snapshotState()).toEqual(before);
  });

  it('pulls every tag (all_tags): each with its own lines and Digest, one Status for the repository', async () => {
    const one = imageOf([layerOf(await tarOf({ 'one.txt': 'tag one\n' }))]);
    const two = imageOf([layerOf(await tarOf({ 'two.txt': 'tag two\n' }))]);
    await uploadImage(registryUrl, 'team/alltags', 'one', one);
    await uploadImage(registryUrl, 'team/alltags', 'two', two);
    const s = lines(await pull(`${host}/team/alltags`, { allTags: true }));
    // The registry's order of tags; each tag's block as an ordinary pull, without its Status line.
    const blocks = ['one', 'two'].map((t) => s.findIndex((l) => l === `${t} Pulling from team/alltags`));
    expect(blocks.every((i) => i >= 0)).toBe(true);
    for (const [tag, img] of [['one', one], ['two', two]] as const) {
      expect(s).toContain(`${img.layers[0].digest.slice(7, 19)} Pull complete`);
      expect(s).toContain(`Digest: ${img.manifestDigest}`);
      expect((await inspect(`${host}/team/alltags:${tag}`)).id).toBe(img.configDigest);
    }
    expect(s.filter((l) => l.startsWith('Status: '))).toEqual([`Status: Downloaded newer image for ${host}/team/alltags`]);
    expect(s[s.length - 1]).toBe(`Status: Downloaded newer image for ${host}/team/alltags`);

    const again = lines(await pull(`${host}/team/alltags`, { allTags: true }));
    expect(again.filter((l) => / Pulling from /.test(l)).sort()).toEqual(['one Pulling from team/alltags', 'two Pulling from team/alltags']);
    expect(again[again.length - 1]).toBe(`Status: Image is up to date for ${host}/team/alltags`);

    // Errors of the listing come before any progress, in dockerd's words.
    await expect(pull(`${host}/no/such`, { allTags: true })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: `repository ${host}/no/such not found: name unknown: repository name not known to registry`,
      messages: [],
    });
    await expect(pull(`${authRegistry.host}/team/base`, { allTags: true })).rejects.toMatchObject({
      code: status.INTERNAL,
      details: `Get "http://${authRegistry.host}/v2/team/base/tags/list": no basic auth credentials`,
      messages: [],
    });
  });

  it('a pull cancelled by its client leaves nothing named and no content', async () => {
    const big = imageOf([layerOf(await tarOf({ 'big.bin': randomBytes(3 * 1024 * 1024) }))]);
    await uploadImage(registryUrl, 'team/cancel', 'v1', big);
    // The proxy fetches from a forwarder that stalls after 1 MiB of the layer.
    const fwd = await startStallingForwarder(registryUrl, big.layers[0].digest, 1024 * 1024);
    try {
      const before = await snapshotState();
      const fwdHost = new URL(fwd.url).host;
      const call = h.images.pullImage({ ref: `${fwdHost}/team/cancel:v1`, platform: '', registryAuth: '' });
      const seen = await collect(call, (m) => {
        if (m.status === 'Downloading') call.cancel();
      }).catch((e: ServiceError & { messages: Msg[] }) => {
        expect(e.code).toBe(status.CANCELLED);
        return e.messages;
      });
      expect(lines(seen)).toContain(`${big.layers[0].digest.slice(7, 19)} Downloading`);
      // The supervisor deletes the lease (with a synchronous GC) once it sees the cancellation.
      await waitUntil(async () => JSON.stringify(await snapshotState()) === JSON.stringify(before));
      expect(await snapshotState()).toEqual(before);
    } finally {
      await fwd.close();
    }
  });

  it('survives a registry-proxy SIGKILL mid-download: "Retrying in", then the pull resumes where it was', async () => {
    const big = imageOf([layerOf(await tarOf({ 'resume.bin': randomBytes(3 * 1024 * 1024) }))]);
    await uploadImage(registryUrl, 'team/resume', 'v1', big);
    const fwd = await startStallingForwarder(registryUrl, big.layers[0].digest, 1024 * 1024);
    try {
      const ref = `${new URL(fwd.url).host}/team/resume:v1`;
      let killed: Promise<void> | undefined;
      const ms = await collect(h.images.pullImage({ ref, platform: '', registryAuth: '' }), (m) => {
        if (m.status === 'Downloading' && !killed) {
          killed = fwd.stalled.then(async () => {
            await h.killRegistryProxy();
            fwd.release();
            await h.startRegistryProxy();
          });
        }
      });
      await killed;
      const s = lines(ms);
      const id = big.layers[0].digest.slice(7, 19);
      const retry = s.findIndex((l) => l.startsWith(`${id} Retrying in `));
      expect(retry).toBeGreaterThan(0);
      expect(s.slice(-2)).toEqual([`Digest: ${big.manifestDigest}`, `Status: Downloaded newer image for ${ref}`]);
      // The first progress after the retry continues from the bytes already in the ingest, not from zero.
      const before = ms.slice(0, retry).filter((m) => m.status === 'Downloading').pop();
      const resumed = ms.slice(retry).find((m) => m.status === 'Downloading');
      expect(Number(resumed?.current)).toBeGreaterThan(Number(before?.current));
      expect((await inspect(ref)).id).toBe(big.configDigest);
    } finally {
      await fwd.close();
    }
  });

  it('push round trip: import -> push -> rmi -> pull gives the same image; a second push finds the layer', async () => {
    await h.importBusybox(`${host}/team/imported`, 'v1');
    const imported = await inspect(`${host}/team/imported:v1`);
    const diff = imported.diffIds![0];
    const first = await push(`${host}/team/imported:v1`);
    const s = lines(first);
    expect(s[0]).toBe(`The push refers to repository [${host}/team/imported]`);
    expect(s[1]).toBe(`${diff.slice(7, 19)} Preparing`);
    expect(s).toContain(`${diff.slice(7, 19)} Pushed`);
    const aux = first.find((m) => m.aux)!.aux!;
    expect(s).toContain(`v1: digest: ${aux.digest} size: ${aux.size}`);
    expect((await inspect(`${host}/team/imported:v1`)).repoDigests).toEqual([`${host}/team/imported@${aux.digest}`]);

    const again = lines(await push(`${host}/team/imported:v1`));
    expect(again).toContain(`${diff.slice(7, 19)} Layer already exists`);
    expect(again).toContain(`v1: digest: ${aux.digest} size: ${aux.size}`);

    await h.call(h.images, h.images.removeImage, { ref: imported.id, force: true, noPrune: false });
    const back = lines(await pull(`${host}/team/imported:v1`));
    expect(back.slice(-2)).toEqual([`Digest: ${aux.digest}`, `Status: Downloaded newer image for ${host}/team/imported:v1`]);
    const after = await inspect(`${host}/team/imported:v1`);
    expect({ id: after.id, diffIds: after.diffIds, cmd: after.config?.cmd }).toEqual({ id: imported.id, diffIds: imported.diffIds, cmd: imported.config?.cmd });
  });

  it('pushes a pulled image with its original manifest, mounting layers from the repository it came from', async () => {
    await h.call(h.images, h.images.tagImage, { source: `${host}/team/child:v1`, repository: `${host}/team/copy`, tag: 'v1' });
    const ms = await push(`${host}/team/copy:v1`);
    const s = lines(ms);
    // The busybox layer came first with team/base, the second layer with team/child.
    expect(s).toContain(`${child.layers[0].diffId.slice(7, 19)} Mounted from team/base`);
    expect(s).toContain(`${child.layers[1].diffId.slice(7, 19)} Mounted from team/child`);
    expect(ms.find((m) => m.aux)?.aux).toEqual({ tag: 'v1', digest: child.manifestDigest, size: String(child.manifest.length) });
    expect((await inspect(`${host}/team/copy:v1`)).repoDigests).toEqual(expect.arrayContaining([`${host}/team/copy@${child.manifestDigest}`, `${host}/team/child@${child.manifestDigest}`]));
  });

  it('pushes a layer nobody has with Pushing progress, and every tag of a repository when none is given', async () => {
    const tar = await tarOf({ 'random.bin': randomBytes(2 * 1024 * 1024) });
    await new Promise<void>((resolve, reject) => {
      const stream = h.images.importImage((err) => (err ? reject(err) : resolve()));
      stream.write({ header: { repository: `${host}/team/fresh`, tag: 'b', changes: [], message: '', platform: '' } });
      stream.write({ chunk: tar });
      stream.end();
    });
    await h.call(h.images, h.images.tagImage, { source: `${host}/team/fresh:b`, repository: `${host}/team/fresh`, tag: 'a' });
    const ms = await push(`${host}/team/fresh`);
    const s = lines(ms);
    const diff = (await inspect(`${host}/team/fresh:a`)).diffIds![0].slice(7, 19);
    expect(s.filter((l) => l === `${diff} Pushed`)).toHaveLength(1);
    expect(s.filter((l) => l === `${diff} Layer already exists`)).toHaveLength(1);
    const pushing = ms.filter((m) => m.status === 'Pushing');
    expect(Number(pushing[pushing.length - 1].current)).toBe(Number(pushing[0].total));
    expect(ms.filter((m) => m.aux).map((m) => m.aux!.tag)).toEqual(['a', 'b']);
  });

  it('publishes Docker\'s pull and push image events: the familiar reference, named by the repository', async () => {
    const nc = await connect({ servers: h.infra.nats!.url });
    try {
      const consumer = await nc.jetstream().consumers.get('DRYDOCK_EVENTS', { filterSubjects: 'drydock.events.>' });
      const seen: { Action: string; id?: string; name?: string }[] = [];
      const want = [`pull ${host}/team/base:v1`, `push ${host}/team/imported:v1`];
      const codec = JSONCodec<{ Action: string; id: string; Actor: { Attributes: Record<string, string> } }>();
      for (let round = 0; round < 20 && !want.every((w) => seen.some((e) => `${e.Action} ${e.id}` === w)); round++) {
        for await (const m of await consumer.fetch({ max_messages: 1000, expires: 1000 })) {
          const e = codec.decode(m.data);
          seen.push({ Action: e.Action, id: e.id, name: e.Actor.Attributes.name });
        }
      }
      expect(seen).toEqual(
        expect.arrayContaining([
          { Action: 'pull', id: `${host}/team/base:v1`, name: `${host}/team/base` },
          { Action: 'push', id: `${host}/team/imported:v1`, name: `${host}/team/imported` },
        ]),
      );
      // A pull that failed published nothing. (Network events, which have no legacy id, are on the stream too.)
      expect(seen.filter((e) => e.id?.includes(':nope'))).toEqual([]);
    } finally {
      await nc.close();
    }
  });

  it('push errors: a missing image and an unauthenticated registry, in dockerd\'s words after the first line', async () => {
    await expect(push(`${host}/team/nothing`)).rejects.toMatchObject({
      details: `An image does not exist locally with the tag: ${host}/team/nothing`,
      messages: [expect.objectContaining({ status: `The push refers to repository [${host}/team/nothing]` })],
    });
    await h.call(h.images, h.images.tagImage, { source: `${host}/team/base:v1`, repository: `${authRegistry.host}/team/base`, tag: 'v1' });
    const err = await push(`${authRegistry.host}/team/base:v1`).then(
      () => undefined,
      (e: ServiceError & { messages: Msg[] }) => e,
    );
    expect(lines(err!.messages)).toEqual([`The push refers to repository [${authRegistry.host}/team/base]`, `${base.layers[0].diffId.slice(7, 19)} Preparing`]);
    expect(err!.details).toBe('no basic auth credentials');

    // The repository is here, that tag is not: dockerd's words for it.
    await expect(push(`${host}/team/base:nope`)).rejects.toMatchObject({
      details: `tag does not exist: ${host}/team/base:nope`,
      messages: [expect.objectContaining({ status: `The push refers to repository [${host}/team/base]` })],
    });
  });

  it('push to an unreachable registry fails at the first contact, before any layer line, with the connection error', async () => {
    // The proxy holds this image's blobs in its cache (pulled above): it must not call them present upstream.
    const goneHost = '127.0.0.1:1';
    await h.call(h.images, h.images.tagImage, { source: `${host}/team/base:v1`, repository: `${goneHost}/team/base`, tag: 'v1' });
    const err = await push(`${goneHost}/team/base:v1`).then(
      () => undefined,
      (e: ServiceError & { messages: Msg[] }) => e,
    );
    expect(lines(err!.messages)).toEqual([`The push refers to repository [${goneHost}/team/base]`]);
    expect(err!.details).toBe(`Get "http://${goneHost}/v2/": dial tcp ${goneHost}: connect: connection refused`);
  });
});

async function waitUntil(fn: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
