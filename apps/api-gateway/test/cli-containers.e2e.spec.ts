// `docker run` options, container lifecycle commands and their errors, through the real
// docker CLI against the gateway; outputs and exit codes are Docker Engine 20.10's.
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { alive, useDockerStack } from './support/stack';
import { eventually, FULL_ID, out, RECENT } from './support/expect';

describe('docker CLI: containers', () => {
  const s = useDockerStack('e2ec');
  const inspect = async (name: string, format: string) => (await s.docker(['inspect', '-f', format, name])).stdout.trimEnd();

  describe('docker run', () => {
    it('run --rm busybox echo hi prints hi and exits 0', async () => {
      expect(out(await s.docker(['run', '--rm', 'busybox', 'echo', 'hi']))).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    });

    it("exits with the container's exit code", async () => {
      expect(out(await s.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']))).toEqual({ code: 3, stdout: '', stderr: '' });
    });

    it('keeps stderr on stderr and stdout on stdout', async () => {
      const r = await s.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out1; echo err2 >&2']);
      expect(out(r)).toEqual({ code: 0, stdout: 'out1\n', stderr: 'err2\n' });
    });

    it('--rm removes the container after it exits', async () => {
      await s.docker(['run', '--rm', '--name', 'rm-gone', 'busybox', 'true']);
      const r = await s.docker(['ps', '-a', '--filter', 'name=^rm-gone$', '--format', '{{.Names}}']);
      expect(out(r)).toEqual({ code: 0, stdout: '', stderr: '' });
    });

    it('--rm removes a container whose start failed, and run answers as dockerd (127)', async () => {
      const r = await s.docker(['run', '--rm', '--name', 'rm-failed-start', 'busybox', 'e2e-no-such-cmd'], { timeoutMs: 30000 });
      expect(r.code).toBe(127);
      expect(r.stderr).toContain('exec: "e2e-no-such-cmd": executable file not found in $PATH');
      const ps = await s.docker(['ps', '-a', '--filter', 'name=^rm-failed-start$', '--format', '{{.Names}}']);
      expect(out(ps)).toEqual({ code: 0, stdout: '', stderr: '' });
    });

    it('run -d prints the full container id and leaves it running', async () => {
      const r = await s.docker(['run', '-d', '--name', 'detached', 'busybox', 'sleep', '1000']);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd()).toMatch(FULL_ID);
      expect(await inspect('detached', '{{.State.Status}} {{.Id}}')).toBe(`running ${r.stdout.trimEnd()}`);
    });

    it('run -i passes stdin to the container and closes it at EOF', async () => {
      const r = await s.docker(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo end'], { input: 'hello\nworld\n' });
      expect(out(r)).toEqual({ code: 0, stdout: 'hello\nworld\nend\n', stderr: '' });
    });

    it('run -t gives the container a tty (raw pty bytes, CRLF)', async () => {
      const r = await s.dockerTty(['run', '-t', '--rm', 'busybox', 'sh', '-c', 'test -t 1 && echo tty']);
      // The container's pty turns \n into \r\n; without -i the CLI leaves script's pty cooked, which adds
      // another \r. No multiplexing headers: a TTY stream is raw bytes.
      expect({ code: r.code, stdout: JSON.stringify(r.stdout) }).toEqual({ code: 0, stdout: JSON.stringify('tty\r\r\n') });
    });

    it('-e and --env-file set the environment', async () => {
      const f = join(s.dir('envfile'), 'env');
      writeFileSync(f, '# comment\nB=from-file\n');
      const r = await s.docker(['run', '--rm', '-e', 'A=one', '--env-file', f, 'busybox', 'sh', '-c', 'echo "$A $B"']);
      expect(out(r)).toEqual({ code: 0, stdout: 'one from-file\n', stderr: '' });
    });

    it('-w sets the working directory', async () => {
      expect(out(await s.docker(['run', '--rm', '-w', '/tmp/work', 'busybox', 'pwd']))).toEqual({ code: 0, stdout: '/tmp/work\n', stderr: '' });
    });

    it('-u sets uid and gid', async () => {
      const r = await s.docker(['run', '--rm', '-u', '1000:1001', 'busybox', 'sh', '-c', 'echo $(id -u) $(id -g)']);
      expect(out(r)).toEqual({ code: 0, stdout: '1000 1001\n', stderr: '' });
    });

    it('--entrypoint replaces the entrypoint, arguments follow the image', async () => {
      expect(out(await s.docker(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'a', 'b']))).toEqual({ code: 0, stdout: 'a b\n', stderr: '' });
    });

    it('--name and -l are stored on the container', async () => {
      expect((await s.docker(['run', '--name', 'labelled', '-l', 'team=core', '-l', 'tier=e2e', 'busybox', 'true'])).code).toBe(0);
      expect(await inspect('labelled', '{{.Name}} {{index .Config.Labels "team"}} {{index .Config.Labels "tier"}}')).toBe('/labelled core e2e');
      const r = await s.docker(['ps', '-a', '--filter', 'label=team=core', '--format', '{{.Names}}']);
      expect(out(r)).toEqual({ code: 0, stdout: 'labelled\n', stderr: '' });
    });

    it('-v hostdir:/path bind-mounts read-write both ways', async () => {
      const d = s.dir('bind');
      writeFileSync(join(d, 'in.txt'), 'from host\n');
      const r = await s.docker(['run', '--rm', '-v', `${d}:/data`, 'busybox', 'sh', '-c', 'cat /data/in.txt; echo from container > /data/out.txt']);
      expect(out(r)).toEqual({ code: 0, stdout: 'from host\n', stderr: '' });
      expect(readFileSync(join(d, 'out.txt'), 'utf8')).toBe('from container\n');
    });

    it('-v hostdir:/path:ro is read-only', async () => {
      const d = s.dir('bind-ro');
      const r = await s.docker(['run', '--rm', '-v', `${d}:/data:ro`, 'busybox', 'touch', '/data/x']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: 'touch: /data/x: Read-only file system\n' });
    });

    it('-v name:/path creates a named volume that outlives the container', async () => {
      expect((await s.docker(['run', '--rm', '-v', 'e2e-named:/vol', 'busybox', 'sh', '-c', 'echo kept > /vol/f'])).code).toBe(0);
      expect(out(await s.docker(['run', '--rm', '-v', 'e2e-named:/vol', 'busybox', 'cat', '/vol/f']))).toEqual({ code: 0, stdout: 'kept\n', stderr: '' });
      expect(out(await s.docker(['volume', 'ls', '-q', '--filter', 'name=e2e-named']))).toEqual({ code: 0, stdout: 'e2e-named\n', stderr: '' });
    });

    it('--tmpfs mounts a tmpfs', async () => {
      const r = await s.docker(['run', '--rm', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', "awk '$2 == \"/scratch\" { print $3 }' /proc/mounts"]);
      expect(out(r)).toEqual({ code: 0, stdout: 'tmpfs\n', stderr: '' });
    });

    it('--read-only makes the root filesystem read-only', async () => {
      const r = await s.docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: 'touch: /x: Read-only file system\n' });
    });

    it('-m sets the memory limit (HostConfig and cgroup)', async () => {
      const r = await s.docker(['run', '--name', 'mem', '-m', '32m', 'busybox', 'sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
      expect(out(r)).toEqual({ code: 0, stdout: '33554432\n', stderr: '' });
      expect(await inspect('mem', '{{.HostConfig.Memory}}')).toBe('33554432');
    });

    it('--cpus sets NanoCpus and the CFS quota', async () => {
      const r = await s.docker(['run', '--name', 'cpus', '--cpus', '0.5', 'busybox', 'sh', '-c', 'cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)']);
      expect(out(r)).toEqual({ code: 0, stdout: '50000 100000\n', stderr: '' });
      expect(await inspect('cpus', '{{.HostConfig.NanoCpus}}')).toBe('500000000');
    });

    it('--restart on-failure:2 restarts twice, then stays exited', async () => {
      expect((await s.docker(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1'])).code).toBe(0);
      const state = await eventually(() => inspect('flaky', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}'), (v) => v === '2 exited 1', 30000, 'two restarts');
      expect(state).toBe('2 exited 1');
      expect(await inspect('flaky', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}')).toBe('on-failure:2');
    });

    it('--restart always: inspect polled between runs reads restarting (exit code kept), never exited; a new run resets the code', async () => {
      expect((await s.docker(['run', '-d', '--name', 'flapping', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.5; exit 3'])).code).toBe(0);
      const seen: string[] = [];
      const deadline = Date.now() + 30000;
      // back to back, as a script polling `docker inspect` would: two exits and the runs after them
      while (seen.filter((v, i) => v.startsWith('running') && seen[i - 1]?.startsWith('restarting')).length < 2 && Date.now() < deadline) {
        seen.push(await inspect('flapping', '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}}'));
      }
      const shapes = [...new Set(seen.map((v) => v.replace(/^running 0 true [1-9]\d*$/, 'running 0 true <pid>')))].sort();
      expect(shapes).toEqual(['restarting 3 true 0', 'running 0 true <pid>']);
      const ps = await eventually(() => s.docker(['ps', '--filter', 'name=^flapping$', '--format', '{{.Status}}']).then((r) => r.stdout.trimEnd()), (v) => v.startsWith('Restarting'), 20000, 'ps Restarting');
      expect(ps).toMatch(/^Restarting \(3\) .+ ago$/);
      expect((await s.docker(['rm', '-f', 'flapping'])).code).toBe(0);
    });

    it('--hostname sets the hostname', async () => {
      expect(out(await s.docker(['run', '--rm', '--hostname', 'h1', 'busybox', 'hostname']))).toEqual({ code: 0, stdout: 'h1\n', stderr: '' });
    });

    it('--network none leaves only the loopback interface', async () => {
      const r = await s.docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]);
      expect(out(r)).toEqual({ code: 0, stdout: 'lo\n', stderr: '' });
    });

    it("--network host shares the host's network namespace and hostname", async () => {
      const ifaces = readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).filter(Boolean).map((l) => l.split(':')[0].trim());
      const r = await s.docker(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', "hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]);
      expect(out(r)).toEqual({ code: 0, stdout: [hostname(), ...ifaces].join('\n') + '\n', stderr: '' });
    });
  });

  describe('lifecycle', () => {
    it('inspect -f {{.State.ExitCode}} shows the exit code', async () => {
      await s.docker(['run', '--name', 'ex3', 'busybox', 'sh', '-c', 'exit 3']);
      expect(out(await s.docker(['inspect', '-f', '{{.State.ExitCode}}', 'ex3']))).toEqual({ code: 0, stdout: '3\n', stderr: '' });
    });

    it('ps -a --format "{{.Names}} {{.Status}}" shows running and exited containers', async () => {
      await s.docker(['run', '--name', 'ps-exited', 'busybox', 'sh', '-c', 'exit 3']);
      await s.docker(['run', '-d', '--name', 'ps-up', 'busybox', 'sleep', '1000']);
      const r = await s.docker(['ps', '-a', '--filter', 'name=^ps-', '--format', '{{.Names}} {{.Status}}']);
      expect(r.code).toBe(0);
      // newest first, like dockerd
      expect(r.stdout).toMatch(new RegExp(`^ps-up Up ${RECENT}\\nps-exited Exited \\(3\\) ${RECENT} ago\\n$`));
    });

    it('ps -q lists the short ids of running containers only', async () => {
      const up = (await s.docker(['run', '-d', '--name', 'q-up', 'busybox', 'sleep', '1000'])).stdout.trim();
      await s.docker(['run', '--name', 'q-down', 'busybox', 'true']);
      const down = await inspect('q-down', '{{.Id}}');
      const r = await s.docker(['ps', '-q']);
      expect(r.code).toBe(0);
      const ids = r.stdout.trimEnd().split('\n');
      expect(ids).toContain(up.slice(0, 12));
      expect(ids).not.toContain(down.slice(0, 12));
      expect(ids.every((id) => /^[0-9a-f]{12}$/.test(id))).toBe(true);
    });

    it('ps --filter status=exited lists exited containers only', async () => {
      await s.docker(['run', '--name', 'st-exited', 'busybox', 'true']);
      await s.docker(['run', '-d', '--name', 'st-running', 'busybox', 'sleep', '1000']);
      const r = await s.docker(['ps', '-a', '--filter', 'status=exited', '--filter', 'name=^st-', '--format', '{{.Names}}']);
      expect(out(r)).toEqual({ code: 0, stdout: 'st-exited\n', stderr: '' });
    });

    it('stop -t 1 stops a container that ignores SIGTERM with SIGKILL after 1 s', async () => {
      await s.docker(['run', '-d', '--name', 'stopme', 'busybox', 'sleep', '1000']);
      expect(out(await s.docker(['stop', '-t', '1', 'stopme']))).toEqual({ code: 0, stdout: 'stopme\n', stderr: '' });
      expect(await inspect('stopme', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');
    });

    it('kill -s delivers the signal', async () => {
      await s.docker(['run', '-d', '--name', 'killme', 'busybox', 'sh', '-c', 'trap "exit 7" USR1; while true; do sleep 0.1; done']);
      expect(out(await s.docker(['kill', '-s', 'USR1', 'killme']))).toEqual({ code: 0, stdout: 'killme\n', stderr: '' });
      expect(out(await s.docker(['wait', 'killme']))).toEqual({ code: 0, stdout: '7\n', stderr: '' });
    });

    it('kill of a stopped container is a 409', async () => {
      await s.docker(['run', '--name', 'killdead', 'busybox', 'true']);
      const r = await s.docker(['kill', 'killdead']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error response from daemon: Cannot kill container: killdead: Container [0-9a-f]{64} is not running\n$/);
    });

    it('restart starts a new process', async () => {
      await s.docker(['run', '-d', '--name', 'restartme', 'busybox', 'sleep', '1000']);
      const pid = await inspect('restartme', '{{.State.Pid}}');
      expect(out(await s.docker(['restart', '-t', '1', 'restartme']))).toEqual({ code: 0, stdout: 'restartme\n', stderr: '' });
      const after = await inspect('restartme', '{{.State.Status}} {{.State.Pid}}');
      expect(after).toMatch(/^running \d+$/);
      expect(after).not.toBe(`running ${pid}`);
    });

    it('pause and unpause', async () => {
      await s.docker(['run', '-d', '--name', 'pauseme', 'busybox', 'sleep', '1000']);
      expect(out(await s.docker(['pause', 'pauseme']))).toEqual({ code: 0, stdout: 'pauseme\n', stderr: '' });
      expect(await inspect('pauseme', '{{.State.Status}} {{.State.Paused}}')).toBe('paused true');
      const ps = await s.docker(['ps', '--filter', 'name=^pauseme$', '--format', '{{.Status}}']);
      expect(ps.stdout).toMatch(new RegExp(`^Up ${RECENT} \\(Paused\\)\\n$`));
      expect(out(await s.docker(['unpause', 'pauseme']))).toEqual({ code: 0, stdout: 'pauseme\n', stderr: '' });
      expect(await inspect('pauseme', '{{.State.Status}} {{.State.Paused}}')).toBe('running false');
    });

    it('wait prints the exit code', async () => {
      await s.docker(['run', '-d', '--name', 'waitme', 'busybox', 'sh', '-c', 'sleep 0.5; exit 42']);
      expect(out(await s.docker(['wait', 'waitme']))).toEqual({ code: 0, stdout: '42\n', stderr: '' });
    });

    it('rm -f removes a running container and its process', async () => {
      await s.docker(['run', '-d', '--name', 'rmf', 'busybox', 'sleep', '1000']);
      const pid = Number(await inspect('rmf', '{{.State.Pid}}'));
      expect(out(await s.docker(['rm', '-f', 'rmf']))).toEqual({ code: 0, stdout: 'rmf\n', stderr: '' });
      expect((await s.docker(['ps', '-a', '--filter', 'name=^rmf$', '-q'])).stdout).toBe('');
      await eventually(async () => alive(pid), (a) => !a, 10000, 'the process to be gone');
    });

    it('rename', async () => {
      await s.docker(['run', '--name', 'oldname', 'busybox', 'true']);
      expect(out(await s.docker(['rename', 'oldname', 'newname']))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await inspect('newname', '{{.Name}}')).toBe('/newname');
      expect((await s.docker(['inspect', 'oldname'])).code).toBe(1);
    });

    it('top lists the container processes', async () => {
      await s.docker(['run', '-d', '--name', 'topme', 'busybox', 'sleep', '1000']);
      const r = await s.docker(['top', 'topme']);
      expect(r.code).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n');
      expect(header.split(/\s+/)).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
      expect(rows.map((l) => l.split(/\s{2,}/).pop())).toEqual(['sleep 1000']);
    });

    it('stats --no-stream prints one sample', async () => {
      await s.docker(['run', '-d', '--name', 'statme', 'busybox', 'sleep', '1000']);
      const r = await s.docker(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}', 'statme']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^statme\|[\d.]+[KMG]?i?B \/ [\d.]+[KMGT]?i?B\|1\n$/);
    });

    it('stats streams samples until the CLI is stopped', async () => {
      const p = s.spawnCli(['stats', '--format', '{{.Name}} {{.PIDs}}', 'statme'], { timeoutMs: 3500 });
      const r = await p.done;
      // the CLI redraws its table once a second: several samples in 3.5 s
      expect((r.stdout.match(/statme 1/g) ?? []).length).toBeGreaterThanOrEqual(2);
    });

    it('start -a -i attaches stdin and output and returns the exit code', async () => {
      expect((await s.docker(['create', '-i', '--name', 'startai', 'busybox', 'sh', '-c', 'read x; echo got:$x; exit 3'])).code).toBe(0);
      const r = await s.docker(['start', '-a', '-i', 'startai'], { input: 'hello\n' });
      expect(out(r)).toEqual({ code: 3, stdout: 'got:hello\n', stderr: '' });
    });

    it('port of a container without published ports prints nothing', async () => {
      expect(out(await s.docker(['port', 'startai']))).toEqual({ code: 0, stdout: '', stderr: '' });
    });

    it('update -m changes the memory limit of a running container', async () => {
      await s.docker(['run', '-d', '--name', 'updateme', 'busybox', 'sleep', '1000']);
      expect(out(await s.docker(['update', '-m', '64m', '--memory-swap', '-1', 'updateme']))).toEqual({ code: 0, stdout: 'updateme\n', stderr: '' });
      expect(await inspect('updateme', '{{.HostConfig.Memory}}')).toBe('67108864');
      const r = await s.docker(['exec', 'updateme', 'sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
      expect(out(r)).toEqual({ code: 0, stdout: '67108864\n', stderr: '' });
    });

    it('container prune -f removes stopped containers matching the filter', async () => {
      await s.docker(['run', '--name', 'prune-a', '-l', 'prune=yes', 'busybox', 'true']);
      await s.docker(['run', '-d', '--name', 'prune-running', '-l', 'prune=yes', 'busybox', 'sleep', '1000']);
      await s.docker(['run', '--name', 'prune-other', 'busybox', 'true']);
      const id = await inspect('prune-a', '{{.Id}}');
      const r = await s.docker(['container', 'prune', '-f', '--filter', 'label=prune=yes']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Deleted Containers:\\n${id}\\n\\nTotal reclaimed space: [\\d.]+k?B\\n$`));
      const left = await s.docker(['ps', '-a', '--filter', 'name=^prune-', '--format', '{{.Names}}']);
      expect(left.stdout.trimEnd().split('\n').sort()).toEqual(['prune-other', 'prune-running']);
    });
  });

  describe('errors', () => {
    it('name conflict: exit 125 with dockerd\'s message', async () => {
      await s.docker(['run', '-d', '--name', 'taken', 'busybox', 'sleep', '1000']);
      const id = await inspect('taken', '{{.Id}}');
      const r = await s.docker(['run', '--name', 'taken', 'busybox', 'true']);
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(
        `docker: Error response from daemon: Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.\n`,
      );
    });

    it('run of an unknown image: tries to pull, then fails with 125', async () => {
      const r = await s.docker(['run', '--rm', 'e2e-no-such-image', 'true'], { timeoutMs: 60000 });
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Unable to find image 'e2e-no-such-image:latest' locally\n(.*\n)*docker: Error response from daemon: .+\n/);
    });

    it('rm of an unknown container: No such container, exit 1', async () => {
      const r = await s.docker(['rm', 'nosuch']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^(Error|Error response from daemon): No such container: nosuch\n$/);
    });

    it('rm of a running container is a 409 with dockerd\'s text', async () => {
      await s.docker(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '1000']);
      const id = await inspect('busy', '{{.Id}}');
      const r = await s.docker(['rm', 'busy']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Error response from daemon: You cannot remove a running container ${id}. Stop the container before attempting removal or force remove\n`);
    });

    it('stop of an unknown container', async () => {
      const r = await s.docker(['stop', 'nosuch']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: nosuch\n' });
    });

    it("POST /v1.41/containers/create with malformed JSON: 400 with Go's text (dockerd 20.10: 500)", async () => {
      const r = await s.raw('POST', '/v1.41/containers/create', '{bad json');
      expect(r.status).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body)).toEqual({ message: "invalid character 'b' looking for beginning of object key string" });
    });

    it('POST /v1.41/containers/create without an image: 400', async () => {
      const r = await s.raw('POST', '/v1.41/containers/create', '{}');
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ message: expect.stringMatching(/^[Cc]onfig cannot be empty in order to create a container$/) });
    });

    it('GET /v1.41/containers/nosuch/json: 404 with a JSON message', async () => {
      const r = await s.raw('GET', '/v1.41/containers/nosuch/json');
      expect({ status: r.status, body: JSON.parse(r.body) }).toEqual({ status: 404, body: { message: 'No such container: nosuch' } });
    });
  });
});
