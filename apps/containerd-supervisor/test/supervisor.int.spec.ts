import { status, type ServiceError } from '@grpc/grpc-js';
import * as tarStream from 'tar-stream';
import { ctr } from '@drydock/testing';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection, AckPolicy, DeliverPolicy } from 'nats';
import { supervisorV1 } from '@drydock/proto';
import { waitFor } from '@drydock/infra';
import { grpcCode, SupervisorHarness } from './support/harness';

/**
 * The supervisor against real containerd, runc and NATS. The supervisor runs as
 * its own process so it can be SIGKILLed like a crash.
 */
describe('containerd-supervisor (real containerd)', () => {
  const h = new SupervisorHarness();

  beforeAll(async () => {
    await h.setup();
    await h.importBusybox();
  }, 180000);

  afterAll(async () => {
    await h.teardown();
  }, 120000);

  it('runs a container, keeps stdout and stderr apart and reports the exit code', async () => {
    const id = await h.run('echo out1; echo err1 >&2; echo out2; exit 3', { name: 'basic' });
    expect(await h.wait(id)).toBe(3);
    const logs = await h.logs(id);
    expect(logs.stdout).toBe('out1\nout2\n');
    expect(logs.stderr).toBe('err1\n');
    const info = await h.inspect('basic');
    expect(info.id).toBe(id);
    expect(info.state).toMatchObject({ status: 'exited', running: false, exitCode: 3, oomKilled: false });
    expect(info.state?.startedAt?.seconds).toBeDefined();
    expect(info.state?.finishedAt?.seconds).toBeDefined();
    expect(info.path).toBe('sh');
    expect(info.args).toEqual(['-c', 'echo out1; echo err1 >&2; echo out2; exit 3']);
    const tail = await h.logs(id, { tail: 1, stderr: false });
    expect(tail.stdout).toBe('out2\n');
  });

  it('answers wait only once the run\'s last output is in its log, as dockerd waits for its copiers', async () => {
    const id = await h.run('sleep 1; echo last; echo err >&2', { name: 'drain' });
    // hold the run's log writer: the exit comes while its last output is still in the FIFO
    const pid = logWriterPid(id);
    process.kill(pid, 'SIGSTOP');
    let released = false;
    const waited = h.wait(id).then(async (code) => ({ code, released, logs: await h.logs(id) }));
    await new Promise((r) => setTimeout(r, 1800));
    released = true;
    process.kill(pid, 'SIGCONT');
    const r = await waited;
    expect({ code: r.code, released: r.released, stdout: r.logs.stdout, stderr: r.logs.stderr }).toEqual({ code: 0, released: true, stdout: 'last\n', stderr: 'err\n' });
  });

  it('an attached stream ends only after the run\'s last output, however late its writer appends it', async () => {
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['sh', '-c', 'sleep 0.5; echo late'] } } });
    const chunks: Buffer[] = [];
    const attach = h.containers.attachContainer();
    const ended = new Promise<void>((r, rej) => {
      attach.on('data', (m: supervisorV1.AttachContainerResponse) => chunks.push(Buffer.from(m.data ?? Buffer.alloc(0))));
      attach.on('end', () => r());
      attach.on('error', rej);
    });
    attach.write({ start: { id: res.id, stdout: true, stderr: true, stream: true } });
    await new Promise((r) => setTimeout(r, 200));
    await h.c('startContainer', { id: res.id });
    const pid = logWriterPid(res.id!);
    process.kill(pid, 'SIGSTOP');
    // the run ends while its writer is held: the exit is being recorded, the output is not in yet
    await new Promise((r) => setTimeout(r, 1200));
    process.kill(pid, 'SIGCONT');
    attach.end();
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('late\n');
  });

  it('applies env, working dir, user, hostname, labels, mounts and a read-only rootfs', async () => {
    const bind = join(h.infra.dir, 'bind-src');
    mkdirSync(bind, { recursive: true });
    writeFileSync(join(bind, 'hello.txt'), 'from host\n');
    const id = await h.run('echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(hostname)"; cat /data/hello.txt; touch /rootfile 2>/dev/null || echo ro-ok; touch /scratch/x && echo tmpfs-ok; [ -d /vol ] && echo vol-ok', {
      name: 'configured',
      config: { image: 'busybox', env: ['FOO=bar'], workingDir: '/tmp', user: '1000:1000', hostname: 'box1', labels: { team: 'a' } } as supervisorV1.ContainerConfig,
      hostConfig: {
        readonlyRootfs: true,
        mounts: [
          { type: 'bind', source: bind, target: '/data', readOnly: true },
          { type: 'tmpfs', target: '/scratch', options: 'mode=1777' },
          { type: 'volume', source: 'vol1', target: '/vol' },
        ],
        memory: String(64 * 1024 * 1024),
        nanoCpus: String(500000000),
      },
    });
    expect(await h.wait(id)).toBe(0);
    const { stdout, stderr } = await h.logs(id);
    expect(stderr).toBe('');
    expect(stdout).toBe('bar|/tmp|1000:1000|box1\nfrom host\nro-ok\ntmpfs-ok\nvol-ok\n');
    const info = await h.inspect(id);
    expect(info.config?.labels).toMatchObject({ team: 'a' });
    expect(info.hostConfig?.memory).toBe(String(64 * 1024 * 1024));
    expect(info.mounts?.map((m) => m.destination).sort()).toEqual(['/data', '/scratch', '/vol']);
    const listed = await h.c('listContainers', { all: true, filters: [{ key: 'label', values: ['team=a'] }] });
    expect(listed.containers.map((c: supervisorV1.ContainerSummary) => c.id)).toEqual([id]);
  });

  it('rejects bad input with clear codes and leaves nothing behind', async () => {
    const before = (await h.c('listContainers', { all: true })).containers.length;
    const attempt = (req: object) => h.c('createContainer', req).then(() => undefined, (e) => e);
    const unknownImage = await attempt({ config: { image: 'nope:1' } });
    expect(grpcCode(unknownImage)).toBe(status.NOT_FOUND);
    expect(unknownImage.details).toMatch(/No such image: nope:1/);
    const badMem = await attempt({ config: { image: 'busybox' }, hostConfig: { memory: '1024' } });
    expect(grpcCode(badMem)).toBe(status.INVALID_ARGUMENT);
    expect(badMem.details).toBe('Minimum memory limit allowed is 6MB');
    const badCpu = await attempt({ config: { image: 'busybox' }, hostConfig: { nanoCpus: '999000000000' } });
    expect(grpcCode(badCpu)).toBe(status.INVALID_ARGUMENT);
    const dup = await attempt({ name: 'basic', config: { image: 'busybox' } });
    expect(grpcCode(dup)).toBe(status.ALREADY_EXISTS);
    expect(dup.details).toMatch(/The container name "\/basic" is already in use/);
    const noBind = await attempt({ config: { image: 'busybox' }, hostConfig: { mounts: [{ type: 'bind', source: '/does/not/exist', target: '/x' }] } });
    expect(grpcCode(noBind)).toBe(status.INVALID_ARGUMENT);
    expect(noBind.details).toMatch(/bind source path does not exist/);
    const badName = await attempt({ name: '-bad', config: { image: 'busybox' } });
    expect(grpcCode(badName)).toBe(status.INVALID_ARGUMENT);
    expect((await h.c('listContainers', { all: true })).containers.length).toBe(before);
    const missing = await h.c('inspectContainer', { id: 'nosuchthing' }).catch((e) => e);
    expect(grpcCode(missing)).toBe(status.NOT_FOUND);
    expect(missing.details).toBe('No such container: nosuchthing');
    const execStopped = await h.call(h.exec, h.exec.createExec, { containerId: 'basic', cmd: ['true'] }).catch((e) => e);
    expect(grpcCode(execStopped)).toBe(status.FAILED_PRECONDITION);
  });

  it('refuses an import with ../ entries and survives a client killed mid-stream, leaving nothing behind', async () => {
    const listImages = async () => (await h.call<supervisorV1.ListImagesRequest, supervisorV1.ListImagesResponse>(h.images, h.images.listImages, {})).images ?? [];
    const contentCount = async () => (await ctr(h.infra.containerd!.address, ['content', 'ls', '-q'], 'drydock')).trim().split('\n').filter(Boolean).length;
    const imagesBefore = (await listImages()).length;
    const contentBefore = await contentCount();

    const pack = tarStream.pack();
    pack.entry({ name: 'ok.txt' }, 'fine\n');
    pack.entry({ name: '../evil' }, 'escape\n');
    pack.finalize();
    const evil: Buffer[] = [];
    for await (const c of pack) evil.push(c as Buffer);
    const err = await new Promise<ServiceError>((res, rej) => {
      const s = h.images.importImage((e) => (e ? res(e) : rej(new Error('import of ../ succeeded'))));
      s.write({ header: { repository: 'evil', tag: 'latest', changes: [] } });
      s.write({ chunk: Buffer.concat(evil) });
      s.end();
    });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/escapes the root/);

    // a client that dies after half of a large import
    const cancelled = await new Promise<ServiceError>((res) => {
      const s = h.images.importImage((e) => res(e!));
      s.write({ header: { repository: 'halfway', tag: 'latest', changes: [] } });
      // the first half of a real rootfs tar, then the client is gone
      const tar = readFileSync(join(h.infra.dir, 'busybox.tar'));
      s.write({ chunk: tar.subarray(0, tar.length >> 1) });
      setTimeout(() => s.cancel(), 300);
    });
    expect(cancelled.code).toBe(status.CANCELLED);

    // a follower that goes away mid-stream
    const id = await h.run('while true; do echo tick; sleep 0.05; done', { name: 'follow-me' });
    await new Promise<void>((res) => {
      const s = h.containers.containerLogs({ id, follow: true, stdout: true, stderr: true });
      s.once('data', () => {
        s.cancel();
        res();
      });
      s.on('error', () => undefined);
    });
    await h.c('removeContainer', { id, force: true });

    await waitFor(async () => (await contentCount()) === contentBefore, 10000, 'aborted upload to be cleaned up');
    expect((await listImages()).length).toBe(imagesBefore);
    const info: supervisorV1.GetNodeInfoResponse = await h.call(h.node, h.node.getNodeInfo, {}); // still serving
    expect(info.containerdVersion).toMatch(/^1\.6/);
    // read once at start from containerd's Version service, `runc --version` and the host
    expect(info).toMatchObject({ containerdRevision: expect.stringMatching(/\S/), runcVersion: expect.stringMatching(/^1\./), runcCommit: expect.stringMatching(/\S/), snapshotter: 'overlayfs', cgroupDriver: 'cgroupfs' });
    expect(info.driverStatus?.[0]).toEqual({ key: 'Backing Filesystem', value: expect.stringMatching(/\S/) });
  });

  it('stops with the stop signal, then SIGKILL after the timeout; kill, pause and resume', async () => {
    const id = await h.run('trap "echo got-term; exit 0" TERM; while true; do sleep 0.1; done', { name: 'trapper' });
    await waitFor(async () => (await h.inspect(id)).state?.running === true, 5000, 'running');
    await h.c('pauseContainer', { id });
    expect((await h.inspect(id)).state?.status).toBe('paused');
    await h.c('resumeContainer', { id });
    expect((await h.inspect(id)).state?.status).toBe('running');
    const stopped = await h.c('stopContainer', { id, timeoutSeconds: 5 });
    expect(stopped.alreadyStopped).toBe(false);
    expect((await h.inspect(id)).state).toMatchObject({ status: 'exited', exitCode: 0 });
    await waitFor(async () => (await h.logs(id)).stdout.includes('got-term'), 5000, 'trap output');

    const stubborn = await h.run('trap "" TERM; while true; do sleep 0.1; done', { name: 'stubborn' });
    await waitFor(async () => (await h.inspect(stubborn)).state?.running === true, 5000, 'running');
    await h.c('stopContainer', { id: stubborn, timeoutSeconds: 1 });
    expect((await h.inspect(stubborn)).state?.exitCode).toBe(137);
    const again = await h.c('killContainer', { id: stubborn, signal: 'KILL' }).catch((e) => e);
    expect(grpcCode(again)).toBe(status.FAILED_PRECONDITION);
  });

  it('runs exec sessions with output and exit codes', async () => {
    const id = await h.run('sleep 1000', { name: 'execbox' });
    const x: supervisorV1.CreateExecResponse = await h.call(h.exec, h.exec.createExec, { containerId: id, cmd: ['sh', '-c', 'echo in-exec; echo e >&2; exit 5'], attachStdout: true, attachStderr: true });
    const out: supervisorV1.StartExecResponse[] = [];
    await new Promise<void>((res, rej) => {
      const s = h.exec.startExec();
      s.on('data', (m: supervisorV1.StartExecResponse) => out.push(m));
      s.on('end', () => res());
      s.on('error', rej);
      s.write({ start: { execId: x.id } });
      s.end();
    });
    const stdout = Buffer.concat(out.filter((m) => m.output?.stream === supervisorV1.StdStream.STD_STREAM_STDOUT).map((m) => Buffer.from(m.output!.data!))).toString();
    expect(stdout).toBe('in-exec\n');
    expect(out[out.length - 1].exit?.exitCode).toBe(5);
    const info: supervisorV1.InspectExecResponse = await h.call(h.exec, h.exec.inspectExec, { id: x.id });
    expect(info).toMatchObject({ running: false, exitCode: 5, containerId: id });
    await h.c('removeContainer', { id, force: true });
    const gone = await h.inspect(id).catch((e) => e);
    expect(grpcCode(gone)).toBe(status.NOT_FOUND);
  });

  it('passes stdin through attach and closes it for StdinOnce', async () => {
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['sh', '-c', 'cat; echo done'] }, openStdin: true, stdinOnce: true, attachStdin: true } });
    const chunks: Buffer[] = [];
    const attach = h.containers.attachContainer();
    const ended = new Promise<void>((r, rej) => {
      attach.on('data', (m: supervisorV1.AttachContainerResponse) => chunks.push(Buffer.from(m.data ?? Buffer.alloc(0))));
      attach.on('end', () => r());
      attach.on('error', rej);
    });
    attach.write({ start: { id: res.id, stdin: true, stdout: true, stderr: true, stream: true } });
    await new Promise((r) => setTimeout(r, 200));
    await h.c('startContainer', { id: res.id });
    attach.write({ stdin: Buffer.from('hello stdin\n') });
    attach.end();
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('hello stdin\ndone\n');
    expect(await h.wait(res.id)).toBe(0);
  });

  it('runs a TTY container with stdin: one raw stream, exit code, resize', async () => {
    const res = await h.c('createContainer', { config: { image: 'busybox', cmd: { values: ['sh'] }, tty: true, openStdin: true, stdinOnce: true, attachStdin: true } });
    const chunks: Buffer[] = [];
    const attach = h.containers.attachContainer();
    const ended = new Promise<void>((r, rej) => {
      attach.on('data', (m: supervisorV1.AttachContainerResponse) => chunks.push(Buffer.from(m.data ?? Buffer.alloc(0))));
      attach.on('end', () => r());
      attach.on('error', rej);
    });
    attach.write({ start: { id: res.id, stdin: true, stdout: true, stderr: true, stream: true } });
    await h.c('startContainer', { id: res.id });
    await h.c('resizeContainerTty', { id: res.id, width: 100, height: 40 });
    attach.write({ stdin: Buffer.from('stty size; echo "tty:$(tty)"; exit 7\n') });
    await ended;
    const out = Buffer.concat(chunks).toString();
    expect(out).toContain('40 100');
    expect(out).toMatch(/tty:\/dev\/pts\/\d+/);
    // a pty turns \n into \r\n, and there is no stderr stream
    expect(out).toContain('\r\n');
    expect(await h.wait(res.id)).toBe(7);
    const logs = await h.logs(res.id);
    expect(logs.stderr).toBe('');
  });

  it('reports OOMKilled when the memory limit kills the container', async () => {
    // a shell variable that outgrows an 8 MiB limit
    const id = await h.run('x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived', { name: 'oom', hostConfig: { memory: String(8 * 1024 * 1024), memorySwap: String(8 * 1024 * 1024) } });
    const code = await h.wait(id);
    expect(code).toBe(137);
    // containerd's OOM event may trail the exit by a moment
    await waitFor(async () => (await h.inspect(id)).state?.oomKilled === true, 5000, 'OOMKilled');
    expect((await h.logs(id)).stdout).not.toContain('survived');
  });

  it('keeps containers and every output line across a supervisor SIGKILL, and adopts them', async () => {
    // a counter that outlives the outage, one that exits during it, and a fast writer
    const steady = await h.run('i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo line$i; sleep 0.01; done; sleep 1000', { name: 'steady' });
    const dying = await h.run('i=0; while [ $i -lt 150 ]; do i=$((i+1)); echo d$i; sleep 0.01; done; echo last-words >&2; exit 7', { name: 'dying' });
    const fast = await h.run('yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 20000000; echo; echo fast-done', { name: 'fast' });
    const pidBefore = (await h.inspect(steady)).state?.pid;
    await new Promise((r) => setTimeout(r, 300));
    await h.kill();
    // while the supervisor is away: dying exits, fast writes 20 MB
    await new Promise((r) => setTimeout(r, 5000));
    await h.startSupervisor();

    const s = await h.inspect(steady);
    expect(s.state).toMatchObject({ status: 'running', running: true });
    expect(s.state?.pid).toBe(pidBefore);
    const d = await h.inspect(dying);
    expect(d.state).toMatchObject({ status: 'exited', running: false, exitCode: 7 });
    expect(await h.wait(fast)).toBe(0);

    const dl = await h.logs(dying);
    expect(dl.stdout).toBe(Array.from({ length: 150 }, (_, i) => `d${i + 1}\n`).join(''));
    expect(dl.stderr).toBe('last-words\n');
    await waitFor(async () => (await h.logs(steady)).stdout.includes('line400\n'), 20000, 'steady output');
    expect((await h.logs(steady)).stdout).toBe(Array.from({ length: 400 }, (_, i) => `line${i + 1}\n`).join(''));
    const fl = await h.logs(fast, { tail: 1 });
    expect(fl.stdout).toBe('fast-done\n');
    const full = await h.logs(fast);
    expect(full.stdout.length).toBe(20000000 + 1 + 'fast-done\n'.length);

    // the adopted container is still controllable and follows work again
    await h.c('killContainer', { id: steady, signal: 'KILL' });
    expect(await h.wait(steady)).toBe(137);
  }, 120000);

  it('resumes restart policies after a restart and counts restarts', async () => {
    const id = await h.run('echo run; exit 1', { name: 'flaky', hostConfig: { restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } } });
    await waitFor(async () => {
      const i = await h.inspect(id);
      return i.restartCount === 2 && i.state?.status === 'exited';
    }, 20000, 'two restarts');
    expect((await h.logs(id)).stdout).toBe('run\nrun\nrun\n');

    const always = await h.run('echo up; sleep 1000', { name: 'always', hostConfig: { restartPolicy: { name: 'always' } } });
    const before = (await h.inspect(always)).state?.pid;
    expect(before).toBeGreaterThan(0);
    await h.kill();
    // the container dies while the supervisor is down; the new supervisor must restart it
    process.kill(before!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await h.startSupervisor();
    await waitFor(async () => {
      const i = await h.inspect(always);
      // status, not State.Running: dockerd reports Running during the restart back-off too
      return i.state?.status === 'running' && i.state.pid !== before && (i.restartCount ?? 0) >= 1;
    }, 20000, 'always restart');
    // running is seen before the restarted shell's echo has reached its log (the logger writes asynchronously)
    await waitFor(async () => (await h.logs(always)).stdout.length >= 6, 5000, 'the restarted run\'s output').catch(() => undefined);
    expect((await h.logs(always)).stdout).toBe('up\nup\n');
  }, 60000);

  it('survives a containerd SIGKILL: containers keep running and the supervisor recovers', async () => {
    const id = await h.run('i=0; while true; do i=$((i+1)); echo t$i; sleep 0.05; done', { name: 'through-outage' });
    const short = await h.run('sleep 1; echo bye; exit 4', { name: 'exits-in-outage' });
    const pid = (await h.inspect(id)).state?.pid;
    await h.infra.containerd!.process.kill();
    await new Promise((r) => setTimeout(r, 2000));
    expect(() => process.kill(pid!, 0)).not.toThrow();
    await h.infra.containerd!.process.start();
    await waitFor(async () => {
      try {
        return (await h.inspect(short)).state?.exitCode === 4;
      } catch {
        return false;
      }
    }, 20000, 'exit recorded after containerd restart');
    expect((await h.inspect(id)).state).toMatchObject({ running: true, pid });
    await h.c('stopContainer', { id, timeoutSeconds: 1 });
    const started = await h.run('echo after', { name: 'after-outage' });
    expect(await h.wait(started)).toBe(0);
    expect((await h.logs(started)).stdout).toBe('after\n');
  }, 60000);

  it('publishes Docker-shaped lifecycle events to JetStream after each change', async () => {
    const id = await h.run('exit 2', { name: 'evented' });
    await h.wait(id);
    await h.c('removeContainer', { id });
    const nc: NatsConnection = await connect({ servers: h.infra.nats!.url });
    try {
      const js = nc.jetstream();
      const jsm = await nc.jetstreamManager();
      const streams = await jsm.streams.list().next();
      const name = streams.find((s) => s.config.subjects?.some((x) => x.startsWith('drydock.events')))?.config.name;
      expect(name).toBeDefined();
      const consumer = await jsm.consumers.add(name!, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const c = await js.consumers.get(name!, consumer.name);
      const seen: { Action: string; Actor: { ID: string; Attributes: Record<string, string> } }[] = [];
      await waitFor(async () => {
        const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
        for await (const m of batch) seen.push(m.json());
        return seen.filter((e) => e.Actor.ID === id).map((e) => e.Action).includes('destroy');
      }, 15000, 'events');
      const mine = seen.filter((e) => e.Actor.ID === id);
      expect(mine.map((e) => e.Action)).toEqual(['create', 'start', 'die', 'destroy']);
      expect(mine[2].Actor.Attributes).toMatchObject({ exitCode: '2', name: 'evented', image: 'busybox' });
    } finally {
      await nc.close();
    }
  });
});

/** The pid of the drydock-logger writing a container's log (its arguments name the container's directory). */
function logWriterPid(containerId: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes('drydock-logger') && cmd.includes(containerId)) return Number(d);
  }
  throw new Error(`no log writer found for ${containerId}`);
}
