// logs, exec, attach, cp, export and diff through the real docker CLI: the hijacked and
// multiplexed streams, tar archives, and exit codes carried over them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDockerStack } from './support/stack';
import { eventually, out } from './support/expect';

describe('docker CLI: streams', () => {
  const s = useDockerStack('e2es');

  describe('logs', () => {
    it('logs prints stdout and stderr on their own streams', async () => {
      await s.docker(['run', '--name', 'lg', 'busybox', 'sh', '-c', 'echo one; echo two >&2; echo three']);
      expect(out(await s.docker(['logs', 'lg']))).toEqual({ code: 0, stdout: 'one\nthree\n', stderr: 'two\n' });
    });

    it('logs --tail 1 prints the last line only', async () => {
      await s.docker(['run', '--name', 'lgt', 'busybox', 'sh', '-c', 'echo a; echo b; echo c']);
      expect(out(await s.docker(['logs', '--tail', '1', 'lgt']))).toEqual({ code: 0, stdout: 'c\n', stderr: '' });
    });

    it('logs -t prefixes RFC3339Nano timestamps', async () => {
      await s.docker(['run', '--name', 'lgts', 'busybox', 'echo', 'stamped']);
      const r = await s.docker(['logs', '-t', 'lgts']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z stamped\n$/);
    });

    it('logs -f follows until the container stops, then exits 0', async () => {
      await s.docker(['run', '-d', '--name', 'lgf', 'busybox', 'sh', '-c', 'echo first; sleep 2; echo second']);
      const r = await s.docker(['logs', '-f', 'lgf'], { timeoutMs: 20000 });
      expect({ ...out(r), timedOut: r.timedOut }).toEqual({ code: 0, stdout: 'first\nsecond\n', stderr: '', timedOut: false });
    });

    it('logs of an unknown container', async () => {
      expect(out(await s.docker(['logs', 'nosuch']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: nosuch\n' });
    });
  });

  describe('exec', () => {
    beforeAll(async () => {
      const r = await s.docker(['run', '-d', '--name', 'ex', 'busybox', 'sleep', '1000']);
      if (r.code !== 0) throw new Error(`cannot start the exec target: ${r.stderr}`);
    });

    it('exec runs a command and returns its output', async () => {
      expect(out(await s.docker(['exec', 'ex', 'echo', 'hi']))).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    });

    it('POST /containers/{id}/exec with a string Cmd: 400 as dockerd, nothing created', async () => {
      // dockerd 20.10.24's answer to the same body, byte for byte
      const r = await s.raw('POST', '/v1.41/containers/ex/exec', '{"Cmd": "echo hi"}');
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: '{"message":"json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string"}\n' });
      const bad = await s.raw('POST', '/v1.41/containers/ex/exec', '{"Cmd": ["true"], "Env": {"A": 1}}');
      expect({ status: bad.status, message: JSON.parse(bad.body).message }).toEqual({ status: 400, message: 'json: cannot unmarshal object into Go struct field ExecConfig.Env of type []string' });
      const ok = await s.raw('POST', '/v1.41/containers/ex/exec', '{"cmd": ["echo", "hi"], "attachstdout": true}');
      expect(ok.status).toBe(201);
    });

    it("exec returns the process's exit code and keeps stderr apart", async () => {
      expect(out(await s.docker(['exec', 'ex', 'sh', '-c', 'echo o; echo e >&2; exit 4']))).toEqual({ code: 4, stdout: 'o\n', stderr: 'e\n' });
    });

    it('exec -i passes stdin', async () => {
      expect(out(await s.docker(['exec', '-i', 'ex', 'sh', '-c', 'tr a-z A-Z'], { input: 'shout\n' }))).toEqual({ code: 0, stdout: 'SHOUT\n', stderr: '' });
    });

    it('exec -e sets the environment', async () => {
      expect(out(await s.docker(['exec', '-e', 'GREETING=hey', 'ex', 'sh', '-c', 'echo $GREETING']))).toEqual({ code: 0, stdout: 'hey\n', stderr: '' });
    });

    it('exec -w sets the working directory', async () => {
      expect(out(await s.docker(['exec', '-w', '/etc', 'ex', 'pwd']))).toEqual({ code: 0, stdout: '/etc\n', stderr: '' });
    });

    it('exec -u sets the user', async () => {
      expect(out(await s.docker(['exec', '-u', '1234', 'ex', 'id', '-u']))).toEqual({ code: 0, stdout: '1234\n', stderr: '' });
    });

    it('exec -d returns at once; the process runs in the container', async () => {
      expect(out(await s.docker(['exec', '-d', 'ex', 'sh', '-c', 'echo bg > /tmp/bg']))).toEqual({ code: 0, stdout: '', stderr: '' });
      const r = await eventually(() => s.docker(['exec', 'ex', 'cat', '/tmp/bg']), (r) => r.code === 0, 10000, 'the detached exec');
      expect(r.stdout).toBe('bg\n');
    });

    it('exec of a missing binary exits 126 (runtime error)', async () => {
      const r = await s.docker(['exec', 'ex', '/no/such/binary']);
      expect(r.code).toBe(126);
      // dockerd writes the runtime's error into the hijacked stdout stream, CRLF-terminated
      expect(r.stdout + r.stderr).toMatch(/OCI runtime exec failed: .*(no such file or directory|not found)/);
    });

    it('exec into a stopped container is a 409', async () => {
      await s.docker(['run', '--name', 'ex-stopped', 'busybox', 'true']);
      const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'ex-stopped'])).stdout.trim();
      const r = await s.docker(['exec', 'ex-stopped', 'true']);
      expect(out(r)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: Container ${id} is not running\n` });
    });
  });

  describe('attach, cp, export, diff', () => {
    it("attach streams the output and exits with the container's code", async () => {
      await s.docker(['run', '-d', '--name', 'att', 'busybox', 'sh', '-c', 'sleep 2; echo attached; echo err >&2; exit 5']);
      const r = await s.docker(['attach', 'att'], { timeoutMs: 20000 });
      expect(out(r)).toEqual({ code: 5, stdout: 'attached\n', stderr: 'err\n' });
    });

    it('cp host -> container', async () => {
      await s.docker(['run', '-d', '--name', 'cpin', 'busybox', 'sleep', '1000']);
      const f = join(s.dir('cpin'), 'hello.txt');
      writeFileSync(f, 'copied in\n');
      expect(out(await s.docker(['cp', f, 'cpin:/tmp/']))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(out(await s.docker(['exec', 'cpin', 'cat', '/tmp/hello.txt']))).toEqual({ code: 0, stdout: 'copied in\n', stderr: '' });
    });

    it('cp container -> host', async () => {
      await s.docker(['run', '--name', 'cpout', 'busybox', 'sh', '-c', 'mkdir /out && echo copied out > /out/f.txt']);
      const d = s.dir('cpout');
      expect(out(await s.docker(['cp', 'cpout:/out/f.txt', join(d, 'g.txt')]))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(readFileSync(join(d, 'g.txt'), 'utf8')).toBe('copied out\n');
    });

    it('cp of a missing path', async () => {
      await s.docker(['run', '--name', 'cpmiss', 'busybox', 'true']);
      const r = await s.docker(['cp', 'cpmiss:/nope', s.dir('cpmiss')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Could not find the file \/nope in container cpmiss\n$/);
    });

    it('export writes the filesystem as a tar', async () => {
      await s.docker(['run', '--name', 'exp', 'busybox', 'sh', '-c', 'echo mark > /exported']);
      const tar = join(s.dir('export'), 'fs.tar');
      expect(out(await s.docker(['export', '-o', tar, 'exp']))).toEqual({ code: 0, stdout: '', stderr: '' });
      const names = execFileSync('tar', ['tf', tar]).toString().split('\n');
      expect(names).toEqual(expect.arrayContaining(['exported', 'bin/busybox']));
      expect(execFileSync('tar', ['xOf', tar, 'exported']).toString()).toBe('mark\n');
    });

    it('diff lists added, changed and deleted paths', async () => {
      await s.docker(['run', '--name', 'dif', 'busybox', 'sh', '-c', 'echo x > /added; rm /etc/passwd; touch /tmp/t']);
      const r = await s.docker(['diff', 'dif']);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toEqual(expect.arrayContaining(['A /added', 'C /etc', 'D /etc/passwd', 'C /tmp', 'A /tmp/t']));
    });
  });
});
