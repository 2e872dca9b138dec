// The gateway holds no state: SIGKILLing it drops the CLI's streams, leaves the containers
// alone, and a restarted gateway serves everything (names, labels, exit codes, logs, past
// events) as before.
import { useDockerStack, alive, type CliProcess } from './support/stack';
import { eventually, out } from './support/expect';

describe('docker CLI: gateway restart without disruption', () => {
  const s = useDockerStack('e2er');
  const inspect = async (name: string, format: string) => (await s.docker(['inspect', '-f', format, name])).stdout.trimEnd();
  let since = '';
  let runningPid = 0;
  let logsF: CliProcess;
  let events: CliProcess;

  beforeAll(async () => {
    since = String(Math.floor(Date.now() / 1000) - 1);
    const a = await s.docker(['run', '-d', '--name', 'keeper', '-l', 'role=keeper', 'busybox', 'sh', '-c', 'echo hello; while true; do sleep 0.2; done']);
    const b = await s.docker(['run', '--name', 'finished', '-l', 'role=finished', 'busybox', 'sh', '-c', 'echo done; exit 4']);
    if (a.code !== 0 || b.code !== 4) throw new Error(`setup containers failed: ${a.stderr} ${b.stderr}`);
    runningPid = Number(await inspect('keeper', '{{.State.Pid}}'));
    logsF = s.spawnCli(['logs', '-f', 'keeper'], { timeoutMs: 60000 });
    events = s.spawnCli(['events', '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { timeoutMs: 60000 });
    await eventually(async () => logsF.stdout(), (o) => o === 'hello\n', 10000, 'logs -f output');
    // a live event, so the events stream is known to be flowing before the kill
    await s.docker(['run', '--rm', '--name', 'marker', 'busybox', 'true']);
    await eventually(async () => events.stdout(), (o) => o.includes('destroy marker'), 10000, 'live events');
    await s.killGateway();
  }, 120000);

  it('streaming CLIs (logs -f, events) exit with an error when the gateway dies', async () => {
    const [l, e] = await Promise.all([logsF.done, events.done]);
    expect({ code: l.code === 0 ? 0 : 'error', timedOut: l.timedOut, stdout: l.stdout }).toEqual({ code: 'error', timedOut: false, stdout: 'hello\n' });
    expect({ code: e.code === 0 ? 0 : 'error', timedOut: e.timedOut }).toEqual({ code: 'error', timedOut: false });
    expect(l.stderr + e.stderr).not.toBe('');
  });

  it('commands fail clearly while the gateway is down', async () => {
    const r = await s.docker(['ps']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot connect to the Docker daemon at unix:\/\/.*\. Is the docker daemon running\?/);
  });

  it('containers are untouched', async () => {
    expect(alive(runningPid)).toBe(true);
  });

  describe('after the restart', () => {
    beforeAll(async () => {
      await s.startGateway();
    });

    it('the running container is the same process', async () => {
      expect(await inspect('keeper', '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}')).toBe(`running ${runningPid} 0`);
    });

    it('names and labels are whole', async () => {
      const r = await s.docker(['ps', '-a', '--filter', 'label=role', '--format', '{{.Names}} {{.Label "role"}}']);
      expect(out(r)).toEqual({ code: 0, stdout: 'finished finished\nkeeper keeper\n', stderr: '' });
    });

    it('exit codes are whole', async () => {
      expect(await inspect('finished', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 4');
    });

    it('logs are whole', async () => {
      expect(out(await s.docker(['logs', 'finished']))).toEqual({ code: 0, stdout: 'done\n', stderr: '' });
      expect(out(await s.docker(['logs', 'keeper']))).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
    });

    it('past events are whole', async () => {
      // --until has whole seconds: let the second of the last event pass first
      await new Promise((r) => setTimeout(r, 1100));
      const r = await s.docker(['events', '--since', since, '--until', String(Math.floor(Date.now() / 1000)), '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { timeoutMs: 20000 });
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines).toEqual(expect.arrayContaining(['create keeper', 'start keeper', 'create finished', 'start finished', 'die finished', 'create marker', 'destroy marker']));
      expect(r.stdout).not.toMatch(/die keeper/);
    });

    it('every command works: run, exec, stop, rm', async () => {
      expect(out(await s.docker(['run', '--rm', 'busybox', 'echo', 'after']))).toEqual({ code: 0, stdout: 'after\n', stderr: '' });
      expect(out(await s.docker(['exec', 'keeper', 'echo', 'inside']))).toEqual({ code: 0, stdout: 'inside\n', stderr: '' });
      expect(out(await s.docker(['stop', '-t', '1', 'keeper']))).toEqual({ code: 0, stdout: 'keeper\n', stderr: '' });
      expect(alive(runningPid)).toBe(false);
      expect(out(await s.docker(['rm', 'keeper', 'finished']))).toEqual({ code: 0, stdout: 'keeper\nfinished\n', stderr: '' });
    });
  });
});
