// docker commit through the real docker CLI: the container's writable layer becomes a child image.
import { useDockerStack } from './support/stack';

describe('docker CLI: commit', () => {
  const s = useDockerStack('e2ec');
  const inspect = async (ref: string, fmt: string) => (await s.docker(['image', 'inspect', '-f', fmt, ref])).stdout.trim();

  it('commits changes, deletions, -c, -m and -a into a child image', async () => {
    expect((await s.docker(['run', '--name', 'cm1', 'busybox', 'sh', '-c', 'echo hi > /hello && rm /bin/cat'])).code).toBe(0);
    const r = await s.docker(['commit', '-m', 'my message', '-a', 'me <me@x>', '-c', 'ENV A=b', '-c', 'CMD ["sh", "-c", "echo $A; ls /hello"]', 'cm1', 'e2e/committed:1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const id = r.stdout.trim();
    expect(await inspect('e2e/committed:1', '{{.Id}}')).toBe(id);
    const run = await s.docker(['run', '--rm', 'e2e/committed:1']);
    expect(run).toMatchObject({ code: 0, stdout: 'b\n/hello\n' });
    // the deleted file is a whiteout in the new layer
    const cat = await s.docker(['run', '--rm', 'e2e/committed:1', 'ls', '/bin/cat']);
    expect(cat.code).not.toBe(0);
    const busybox = await inspect('busybox', '{{.Id}}');
    const cid = (await s.docker(['inspect', '-f', '{{.Id}}', 'cm1'])).stdout.trim();
    expect(await inspect(id, '{{.Parent}}|{{.Author}}|{{.Container}}|{{json .Config.Env}}|{{len .RootFS.Layers}}|{{.ContainerConfig.Image}}')).toBe(
      `${busybox}|me <me@x>|${cid}|["A=b"]|2|busybox`,
    );
    const h = await s.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'e2e/committed:1']);
    expect(h.stdout.split('\n')[0]).toBe('sh -c echo hi > /hello && rm /bin/cat|my message');
  });

  it('a container that changed nothing commits an empty layer (runtime mount points are not part of it)', async () => {
    expect((await s.docker(['run', '--name', 'cm2', 'busybox', 'true'])).code).toBe(0);
    const r = await s.docker(['commit', 'cm2']);
    expect(r.code).toBe(0);
    expect(await inspect(r.stdout.trim(), '{{len .RootFS.Layers}} {{json .RepoTags}}')).toBe('1 []');
  });

  it('commits a running container, pausing it meanwhile, and leaves it running', async () => {
    expect((await s.docker(['run', '-d', '--name', 'cm3', 'busybox', 'sh', '-c', 'echo up > /state; sleep 60'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const r = await s.docker(['commit', 'cm3', 'e2e/running']);
    expect(r.code).toBe(0);
    expect((await s.docker(['inspect', '-f', '{{.State.Status}}', 'cm3'])).stdout.trim()).toBe('running');
    expect(await s.docker(['run', '--rm', 'e2e/running', 'cat', '/state'])).toMatchObject({ code: 0, stdout: 'up\n' });
    await s.docker(['rm', '-f', 'cm3']);
  });

  it('rmi of a committed image keeps its parent', async () => {
    expect((await s.docker(['rmi', 'e2e/running'])).code).toBe(0);
    expect((await s.docker(['image', 'inspect', 'busybox'])).code).toBe(0);
  });

  it('answers dockerd\'s errors', async () => {
    const r = await s.docker(['commit', 'nosuch']);
    expect(r).toMatchObject({ code: 1, stderr: 'Error response from daemon: No such container: nosuch\n' });
    const bad = await s.docker(['commit', '-c', 'FROM x', 'cm1']);
    expect(bad).toMatchObject({ code: 1, stderr: 'Error response from daemon: from is not a valid change command\n' });
    const ref = await s.docker(['commit', 'cm1', 'Bad:Ref']);
    expect(ref.code).toBe(1);
    expect(ref.stderr).toMatch(/invalid reference format/);
  });
});
