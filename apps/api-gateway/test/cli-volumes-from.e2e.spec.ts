// `docker run --volumes-from` through the real docker CLI against the gateway: dockerd 20.10's
// registerMountPoints (daemon/volumes.go) — the source's mount points at the same destinations,
// `:ro`, own mounts winning, the missing-source error, inspect and volume usage.
import { useDockerStack } from './support/stack';
import { out } from './support/expect';

describe('docker CLI: --volumes-from', () => {
  const s = useDockerStack('e2evf');
  const inspect = async (name: string, format: string) => (await s.docker(['inspect', '-f', format, name])).stdout.trimEnd();
  const psCount = async () => (await s.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean).length;

  beforeAll(async () => {
    // a named volume, an anonymous one (-v /anon) and a bind, all written by the source
    const r = await s.docker(['run', '--name', 'vf-src', '--network', 'none', '-v', 'vf-data:/data', '-v', '/anon', '-v', `${s.dir('bind')}:/bound`, 'busybox', 'sh', '-c', 'echo named > /data/f; echo anon > /anon/f; echo bound > /bound/f']);
    expect(out(r)).toEqual({ code: 0, stdout: '', stderr: '' });
  }, 60000);

  it("reads what the source wrote into its named and anonymous volumes and its bind", async () => {
    const r = await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-src', 'busybox', 'cat', '/data/f', '/anon/f', '/bound/f']);
    expect(out(r)).toEqual({ code: 0, stdout: 'named\nanon\nbound\n', stderr: '' });
  });

  it('shares the volumes read-write by default: a write is seen by the source', async () => {
    expect((await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-src', 'busybox', 'sh', '-c', 'echo more > /anon/g'])).code).toBe(0);
    const r = await s.docker(['run', '--rm', '--network', 'none', '-v', 'vf-data:/x', '--volumes-from', 'vf-src', 'busybox', 'cat', '/anon/g']);
    expect(out(r)).toEqual({ code: 0, stdout: 'more\n', stderr: '' });
  });

  it(':ro makes every shared mount read-only', async () => {
    const r = await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-src:ro', 'busybox', 'sh', '-c', 'cat /data/f; touch /data/x; touch /anon/x'], { timeoutMs: 30000 });
    expect(out(r)).toEqual({ code: 1, stdout: 'named\n', stderr: 'touch: /data/x: Read-only file system\ntouch: /anon/x: Read-only file system\n' });
  });

  it("the container's own -v on the same destination wins; the other shared mounts stay", async () => {
    const r = await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-src', '-v', 'vf-own:/data', 'busybox', 'sh', '-c', 'test -e /data/f && echo shared || echo own; cat /anon/f']);
    expect(out(r)).toEqual({ code: 0, stdout: 'own\nanon\n', stderr: '' });
    // `-v /data` alone is Config.Volumes: dockerd makes that anonymous volume only where nothing is mounted
    const anon = await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-src', '-v', '/data', 'busybox', 'cat', '/data/f']);
    expect(out(anon)).toEqual({ code: 0, stdout: 'named\n', stderr: '' });
  });

  it("a missing source is dockerd's error at create and creates nothing", async () => {
    const before = await psCount();
    const r = await s.docker(['run', '--name', 'vf-missing', '--volumes-from', 'missing', 'busybox', 'true'], { timeoutMs: 30000 });
    expect(out(r)).toEqual({ code: 125, stdout: '', stderr: "docker: Error response from daemon: No such container: missing\n\nRun 'docker run --help' for more information\n" });
    // a container naming itself: not registered yet while its mounts are resolved, as in dockerd
    const self = await s.docker(['create', '--name', 'vf-self', '--volumes-from', 'vf-self', 'busybox', 'true']);
    expect(out(self)).toEqual({ code: 1, stdout: '', stderr: 'Error response from daemon: No such container: vf-self\n' });
    expect(await psCount()).toBe(before);
  });

  it('inspect shows HostConfig.VolumesFrom as given and the shared mounts in Mounts; they pass on to a further --volumes-from', async () => {
    expect((await s.docker(['create', '--name', 'vf-dst', '--network', 'none', '--volumes-from', 'vf-src:ro', 'busybox', 'cat', '/data/f'])).code).toBe(0);
    expect(await inspect('vf-dst', '{{json .HostConfig.VolumesFrom}}')).toBe('["vf-src:ro"]');
    expect(await inspect('vf-dst', '{{json .HostConfig.Mounts}} {{json .Config.Volumes}} {{json .HostConfig.Binds}}')).toBe('null null null');
    const points = (await inspect('vf-dst', '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Name}}|{{end}}')).split('|').filter(Boolean).sort();
    const anon = await inspect('vf-src', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}');
    expect(anon).toMatch(/^[0-9a-f]{64}$/);
    expect(points).toEqual(['bind /bound false ', `volume /anon false ${anon}`, 'volume /data false vf-data']);
    // vf-dst's mounts came from vf-src: a container sharing vf-dst's gets them too
    const r = await s.docker(['run', '--rm', '--network', 'none', '--volumes-from', 'vf-dst', 'busybox', 'sh', '-c', 'cat /data/f; touch /data/y']);
    expect(out(r)).toEqual({ code: 1, stdout: 'named\n', stderr: 'touch: /data/y: Read-only file system\n' });
  });

  it('volume rm refuses the shared volume while the sharing container exists', async () => {
    const dst = await inspect('vf-dst', '{{.Id}}');
    expect((await s.docker(['rm', 'vf-src'])).code).toBe(0);
    const r = await s.docker(['volume', 'rm', 'vf-data']);
    expect(out(r)).toEqual({ code: 1, stdout: '', stderr: `Error response from daemon: remove vf-data: volume is in use - [${dst}]\n` });
    // the source is gone, the sharing container still runs with its volume
    expect(out(await s.docker(['start', '-a', 'vf-dst']))).toEqual({ code: 0, stdout: 'named\n', stderr: '' });
    expect((await s.docker(['rm', 'vf-dst'])).code).toBe(0);
    expect(out(await s.docker(['volume', 'rm', 'vf-data']))).toEqual({ code: 0, stdout: 'vf-data\n', stderr: '' });
  });
});
