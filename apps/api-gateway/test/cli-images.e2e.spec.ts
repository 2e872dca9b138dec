// Images, volumes and events through the real docker CLI.
import { useDockerStack } from './support/stack';
import { eventually, out } from './support/expect';

describe('docker CLI: images, volumes, events', () => {
  const s = useDockerStack('e2ei');
  const imageId = async (ref: string) => (await s.docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();

  describe('images', () => {
    let imported = '';

    it('import reads a rootfs tar from stdin and prints the image id', async () => {
      const r = await s.docker(['import', s.busyboxTar(), 'e2e/imported:v1']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      imported = r.stdout.trim();
      expect(await imageId('e2e/imported:v1')).toBe(imported);
    });

    it('images lists repository, tag, id, created and size', async () => {
      const r = await s.docker(['images']);
      expect(r.code).toBe(0);
      const [header, ...rows] = r.stdout.trimEnd().split('\n');
      expect(header.split(/\s{2,}/)).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
      expect(rows.map((l) => l.split(/\s+/).slice(0, 3).join(' ')).sort()).toEqual(['busybox latest ' + (await imageId('busybox')).slice(7, 19), 'e2e/imported v1 ' + imported.slice(7, 19)].sort());
    });

    it('images --format and a reference filter', async () => {
      expect(out(await s.docker(['images', '--format', '{{.Repository}}:{{.Tag}}', 'e2e/imported']))).toEqual({ code: 0, stdout: 'e2e/imported:v1\n', stderr: '' });
    });

    it('image inspect shows the config, os and architecture', async () => {
      const r = await s.docker(['image', 'inspect', '-f', '{{json .Config.Cmd}} {{.Os}} {{.Architecture}} {{json .RepoTags}}', 'busybox']);
      expect(out(r)).toEqual({ code: 0, stdout: `["/bin/sh"] linux ${process.arch === 'x64' ? 'amd64' : process.arch} ["busybox:latest"]\n`, stderr: '' });
    });

    it('image inspect of an unknown image', async () => {
      const r = await s.docker(['image', 'inspect', 'nosuch:latest']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error(: No such image| response from daemon: No such image): nosuch:latest\n$/);
    });

    it('tag adds a name to the same image', async () => {
      expect(out(await s.docker(['tag', 'busybox', 'e2e/tagged:1']))).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await imageId('e2e/tagged:1')).toBe(await imageId('busybox:latest'));
    });

    it('rmi of one of two names only untags', async () => {
      expect(out(await s.docker(['rmi', 'e2e/tagged:1']))).toEqual({ code: 0, stdout: 'Untagged: e2e/tagged:1\n', stderr: '' });
      expect((await s.docker(['image', 'inspect', 'busybox'])).code).toBe(0);
    });

    it('rmi of an image a container uses is a 409', async () => {
      await s.docker(['run', '--name', 'uses-imported', 'e2e/imported:v1', 'true']);
      const r = await s.docker(['rmi', 'e2e/imported:v1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error response from daemon: conflict: unable to remove repository reference "e2e\/imported:v1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}\n$/);
    });

    it('rmi of the last name deletes the image', async () => {
      await s.docker(['rm', 'uses-imported']);
      const r = await s.docker(['rmi', 'e2e/imported:v1']);
      expect(out(r)).toEqual({ code: 0, stdout: `Untagged: e2e/imported:v1\nDeleted: ${imported}\n`, stderr: '' });
    });

    it('rmi of an unknown image', async () => {
      expect(out(await s.docker(['rmi', 'nosuch']))).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such image: nosuch:latest\n' });
    });

    it('history shows the import row', async () => {
      const imp = (await s.docker(['import', '-m', 'from e2e', s.busyboxTar(), 'e2e/hist:1'])).stdout.trim();
      const r = await s.docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Comment}}', 'e2e/hist:1']);
      expect(out(r)).toEqual({ code: 0, stdout: `${imp}||from e2e\n`, stderr: '' });
      const table = await s.docker(['history', 'e2e/hist:1']);
      expect(table.stdout.split('\n')[0].split(/\s{2,}/)).toEqual(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    });

    it('image prune -f deletes dangling images only', async () => {
      const dangling = (await s.docker(['import', s.busyboxTar()])).stdout.trim();
      expect(dangling).toMatch(/^sha256:[0-9a-f]{64}$/);
      const r = await s.docker(['image', 'prune', '-f']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Deleted Images:\\ndeleted: ${dangling}\\n\\nTotal reclaimed space: [\\d.]+[kMG]?B\\n$`));
      expect((await s.docker(['image', 'inspect', 'busybox'])).code).toBe(0);
    });
  });

  describe('volumes', () => {
    it('volume create prints the name', async () => {
      expect(out(await s.docker(['volume', 'create', 'v1']))).toEqual({ code: 0, stdout: 'v1\n', stderr: '' });
    });

    it('POST /volumes/create with string Labels: 400 as dockerd, no volume made', async () => {
      const r = await s.raw('POST', '/v1.41/volumes/create', '{"Name": "badlabels", "Labels": "x"}');
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: '{"message":"json: cannot unmarshal string into Go struct field VolumeCreateBody.Labels of type map[string]string"}\n' });
      expect((await s.raw('GET', '/v1.41/volumes/badlabels')).status).toBe(404);
      const empty = await s.raw('POST', '/v1.41/volumes/create', '');
      expect({ status: empty.status, message: JSON.parse(empty.body).message }).toEqual({ status: 400, message: 'got EOF while reading request body' });
    });

    it('volume ls', async () => {
      const r = await s.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toContain('local v1');
      const table = await s.docker(['volume', 'ls']);
      expect(table.stdout.split('\n')[0].split(/\s{2,}/)).toEqual(['DRIVER', 'VOLUME NAME']);
    });

    it('volume inspect', async () => {
      const r = await s.docker(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Scope}}', 'v1']);
      expect(out(r)).toEqual({ code: 0, stdout: 'v1 local local\n', stderr: '' });
      const mp = (await s.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'v1'])).stdout.trim();
      expect(mp).toMatch(/^\/.*v1/);
    });

    it('volume rm of a volume in use is refused, then works', async () => {
      await s.docker(['run', '--name', 'vuser', '-v', 'v1:/data', 'busybox', 'true']);
      const id = (await s.docker(['inspect', '-f', '{{.Id}}', 'vuser'])).stdout.trim();
      const refused = await s.docker(['volume', 'rm', 'v1']);
      expect(out(refused)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: remove v1: volume is in use - [${id}]\n` });
      await s.docker(['rm', 'vuser']);
      expect(out(await s.docker(['volume', 'rm', 'v1']))).toEqual({ code: 0, stdout: 'v1\n', stderr: '' });
    });

    it('volume rm of an unknown volume', async () => {
      const r = await s.docker(['volume', 'rm', 'nosuchvol']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('Error response from daemon: get nosuchvol: no such volume\n');
    });

    it('volume prune -f removes unused volumes (API 1.41: named ones too)', async () => {
      await s.docker(['volume', 'create', 'v-unused']);
      await s.docker(['volume', 'create', 'v-used']);
      await s.docker(['run', '-d', '--name', 'vkeep', '-v', 'v-used:/d', 'busybox', 'sleep', '1000']);
      const r = await s.docker(['volume', 'prune', '-f']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Deleted Volumes:\n(.+\n)*\nTotal reclaimed space: [\d.]+[kMG]?B\n$/);
      expect(r.stdout.split('\n')).toContain('v-unused');
      expect(r.stdout.split('\n')).not.toContain('v-used');
      expect((await s.docker(['volume', 'ls', '-q'])).stdout.split('\n')).toContain('v-used');
    });
  });

  describe('events', () => {
    const now = () => String(Math.floor(Date.now() / 1000));
    const plusOne = () => String(Math.floor(Date.now() / 1000) + 1);

    it('events --since --until --filter container: the run --rm sequence', async () => {
      const since = now();
      expect((await s.docker(['run', '--rm', '--name', 'evrm', 'busybox', 'true'])).code).toBe(0);
      const r = await eventually(
        async () => s.docker(['events', '--since', since, '--until', plusOne(), '--filter', 'container=evrm', '--filter', 'type=container', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], { timeoutMs: 15000 }),
        (r) => r.stdout.includes('destroy'),
        20000,
        'the destroy event',
      );
      expect(out(r)).toEqual({
        code: 0,
        stdout: ['create', 'attach', 'start', 'die', 'destroy'].map((a) => `container ${a} evrm\n`).join(''),
        stderr: '',
      });
    });

    it('events --filter event=die carries the exit code', async () => {
      const since = now();
      await s.docker(['run', '--name', 'evdie', 'busybox', 'sh', '-c', 'exit 9']);
      const r = await eventually(
        () => s.docker(['events', '--since', since, '--until', plusOne(), '--filter', 'event=die', '--filter', 'container=evdie', '--format', '{{.Status}} {{.Actor.Attributes.exitCode}} {{.From}}'], { timeoutMs: 15000 }),
        (r) => r.stdout !== '',
        20000,
        'the die event',
      );
      expect(out(r)).toEqual({ code: 0, stdout: 'die 9 busybox\n', stderr: '' });
    });

    it('events streams live until --until and then exits 0', async () => {
      const until = String(Math.floor(Date.now() / 1000) + 4);
      const p = s.spawnCli(['events', '--until', until, '--filter', 'container=evlive', '--format', '{{.Action}}'], { timeoutMs: 20000 });
      await new Promise((r) => setTimeout(r, 1000));
      await s.docker(['run', '--name', 'evlive', 'busybox', 'true']);
      const r = await p.done;
      expect({ ...out(r), timedOut: r.timedOut }).toEqual({ code: 0, stdout: 'create\nattach\nstart\ndie\n', stderr: '', timedOut: false });
    });
  });
});
