// dockerode (npm), a client users drive Docker with from Node.js, against the gateway: its
// requests differ from the CLI's (attach options as a JSON body before the upgrade, demuxing
// through docker-modem), so it finds what the CLI does not.
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { useDockerStack } from './support/stack';

/** Collects a demultiplexed stream's stdout and stderr until it ends. */
function collect(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({ stdout, stderr }));
    stream.on('close', () => resolve({ stdout, stderr }));
    stream.on('error', reject);
  });
}

describe('dockerode', () => {
  const s = useDockerStack('e2edo');
  let docker: Docker;

  beforeAll(() => {
    docker = new Docker({ socketPath: s.socket });
  });

  it('ping and version', async () => {
    expect(String(await docker.ping())).toBe('OK');
    const v = await docker.version();
    expect(v.ApiVersion).toBe('1.41');
  });

  it('attach with stdin: the attach options are not written to the container (issue #9)', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    try {
      const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as NodeJS.ReadWriteStream;
      const output = collect(docker, stream);
      await c.start();
      stream.end('hello stdin\n');
      expect(await output).toEqual({ stdout: 'hello stdin\n', stderr: '' });
      expect((await c.wait()).StatusCode).toBe(0);
    } finally {
      await c.remove({ force: true });
    }
  });

  it('run: create, start, wait, logs, inspect and remove', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], name: 'dorun', Labels: { who: 'dockerode' } });
    await c.start();
    // dockerd 20.10 answers Error: null beside the code
    expect(await c.wait()).toEqual({ Error: null, StatusCode: 3 });
    const logs = await c.logs({ stdout: true, stderr: true, follow: false });
    const demuxed = { stdout: '', stderr: '' };
    // without follow dockerode returns the multiplexed body as one buffer
    let off = 0;
    const buf = logs as unknown as Buffer;
    while (off + 8 <= buf.length) {
      const len = buf.readUInt32BE(off + 4);
      const text = buf.subarray(off + 8, off + 8 + len).toString();
      if (buf[off] === 1) demuxed.stdout += text;
      else demuxed.stderr += text;
      off += 8 + len;
    }
    expect(demuxed).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    const info = await c.inspect();
    expect({ name: info.Name, exit: info.State.ExitCode, status: info.State.Status, label: info.Config.Labels.who }).toEqual({ name: '/dorun', exit: 3, status: 'exited', label: 'dockerode' });
    await c.remove();
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('exec with a hijacked stdin', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'] });
    try {
      await c.start();
      const exec = await c.exec({ Cmd: ['sh', '-c', 'tr a-z A-Z; echo done >&2'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as NodeJS.ReadWriteStream;
      const output = collect(docker, stream);
      stream.end('shout\n');
      expect(await output).toEqual({ stdout: 'SHOUT\n', stderr: 'done\n' });
      expect((await exec.inspect()).ExitCode).toBe(0);
    } finally {
      await c.remove({ force: true });
    }
  });

  it('exec without stdin returns output and exit code', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'] });
    try {
      await c.start();
      const exec = await c.exec({ Cmd: ['sh', '-c', 'echo hi; exit 5'], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      expect(await collect(docker, stream)).toEqual({ stdout: 'hi\n', stderr: '' });
      expect((await exec.inspect()).ExitCode).toBe(5);
    } finally {
      await c.remove({ force: true });
    }
  });

  it('listContainers with filters, listImages, volumes', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], Labels: { pick: 'me' } });
    try {
      const listed = await docker.listContainers({ all: true, filters: { label: ['pick=me'] } });
      expect(listed.map((x) => x.Id)).toEqual([c.id]);
      const images = await docker.listImages();
      expect(images.some((i) => (i.RepoTags ?? []).includes('busybox:latest'))).toBe(true);
      await docker.createVolume({ Name: 'dovol', Labels: { a: 'b' } });
      expect(await docker.getVolume('dovol').inspect()).toMatchObject({ Name: 'dovol', Driver: 'local', Labels: { a: 'b' } });
      expect((await docker.listVolumes()).Volumes.map((x) => x.Name)).toContain('dovol');
      await docker.getVolume('dovol').remove();
    } finally {
      await c.remove({ force: true });
    }
  });

  it('errors carry dockerd status codes and messages', async () => {
    await expect(docker.getContainer('nosuch').inspect()).rejects.toMatchObject({ statusCode: 404, json: { message: 'No such container: nosuch' } });
    await expect(docker.createContainer({ Image: 'nosuchimage:1', Cmd: ['true'] })).rejects.toMatchObject({ statusCode: 404 });
  });

  it('getEvents with until ends by itself', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], name: 'doev' });
    await c.remove();
    const stream = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: ['doev'] } });
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise((r) => stream.on('end', r));
    expect(text.trim().split('\n').map((l) => JSON.parse(l).Action)).toEqual(['create', 'destroy']);
  });
});
