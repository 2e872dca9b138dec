// docker build through the real docker CLI (legacy builder protocol): output, images, cache.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDockerStack } from './support/stack';

const LEGACY = { DOCKER_BUILDKIT: '0' };

function context(dir: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/** The build output with ids replaced, to compare with dockerd's text. */
function normalize(out: string): string {
  return out.replace(/[0-9a-f]{12}/g, '<id>');
}

describe('docker CLI: build (legacy builder)', () => {
  const s = useDockerStack('e2eb');

  it('builds FROM, ENV, RUN, COPY, CMD and prints dockerd\'s stream', async () => {
    const dir = context(s.dir('b1'), {
      Dockerfile: 'FROM busybox\nENV A=1\nRUN echo hello > /x && echo out && sleep 0.3 && echo err >&2\nCOPY f.txt /f.txt\nCMD ["cat", "/x", "/f.txt"]\n',
      'f.txt': 'file\n',
    });
    const r = await s.docker(['build', '-t', 'e2e/b1', dir], { env: LEGACY, timeoutMs: 120000 });
    expect(r.stderr).toContain('DEPRECATED');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Sending build context to Docker daemon  3\.072kB\r*\n/);
    expect(normalize(r.stdout.replace(/^[^\n]*\n/, ''))).toBe(
      [
        'Step 1/5 : FROM busybox',
        ' ---> <id>',
        'Step 2/5 : ENV A=1',
        ' ---> Running in <id>',
        'Removing intermediate container <id>',
        ' ---> <id>',
        'Step 3/5 : RUN echo hello > /x && echo out && sleep 0.3 && echo err >&2',
        ' ---> Running in <id>',
        'out',
        // dockerd wraps a step's stderr in red; the CLI prints it as is
        '\u001b[91merr',
        '\u001b[0mRemoving intermediate container <id>',
        ' ---> <id>',
        'Step 4/5 : COPY f.txt /f.txt',
        ' ---> <id>',
        'Step 5/5 : CMD ["cat", "/x", "/f.txt"]',
        ' ---> Running in <id>',
        'Removing intermediate container <id>',
        ' ---> <id>',
        'Successfully built <id>',
        'Successfully tagged e2e/b1:latest',
        '',
      ].join('\n'),
    );
    expect(await s.docker(['run', '--rm', 'e2e/b1'])).toMatchObject({ code: 0, stdout: 'hello\nfile\n' });
    const again = await s.docker(['build', '-t', 'e2e/b1', dir], { env: LEGACY, timeoutMs: 120000 });
    expect(again.code).toBe(0);
    expect(again.stdout.match(/ ---> Using cache/g)?.length).toBe(4);
    const id = (s: string) => /Successfully built ([0-9a-f]{12})/.exec(s)?.[1];
    expect(id(again.stdout)).toBe(id(r.stdout));
  });

  const build = (args: string[], opts: { input?: string | Buffer } = {}) => s.docker(['build', ...args], { env: LEGACY, timeoutMs: 120000, ...opts });
  const inspect = async (ref: string, fmt: string) => (await s.docker(['image', 'inspect', '-f', fmt, ref])).stdout.trim();

  it('records every metadata instruction in the config and dockerd\'s CREATED BY texts in history', async () => {
    const dir = context(s.dir('b2'), {
      Dockerfile: [
        'FROM busybox',
        'LABEL a=b "c d"="e f"',
        'WORKDIR /app/sub',
        'USER 1000:1000',
        'EXPOSE 80 53/udp',
        'VOLUME /data',
        'STOPSIGNAL SIGUSR1',
        'HEALTHCHECK --interval=5s --retries=3 CMD true',
        'SHELL ["/bin/sh", "-ec"]',
        'ENTRYPOINT echo hi',
        'ONBUILD RUN echo triggered',
        '',
      ].join('\n'),
    });
    const r = await build(['-t', 'e2e/b2', dir]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(await inspect('e2e/b2', '{{json .Config.Labels}}|{{.Config.WorkingDir}}|{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{.Config.StopSignal}}|{{json .Config.Healthcheck}}|{{json .Config.Shell}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.OnBuild}}')).toBe(
      '{"a":"b","c d":"e f"}|/app/sub|1000:1000|{"53/udp":{},"80/tcp":{}}|{"/data":{}}|SIGUSR1|{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":3}|["/bin/sh","-ec"]|["/bin/sh","-ec","echo hi"]|null|["RUN echo triggered"]',
    );
    const h = await s.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'e2e/b2']);
    expect(h.stdout.split('\n').slice(0, 10)).toEqual([
      '/bin/sh -ec #(nop)  ONBUILD RUN echo triggered',
      '/bin/sh -ec #(nop)  ENTRYPOINT ["/bin/sh" "-ec" "echo hi"]',
      // SHELL's own entry already uses the new shell (dockerd sets it before it commits)
      '/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]',
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x03\'}',
      '/bin/sh -c #(nop)  STOPSIGNAL SIGUSR1',
      '/bin/sh -c #(nop)  VOLUME [/data]',
      '/bin/sh -c #(nop)  EXPOSE 53/udp 80',
      '/bin/sh -c #(nop)  USER 1000:1000',
      '/bin/sh -c #(nop) WORKDIR /app/sub',
      '/bin/sh -c #(nop)  LABEL a=b c d=e f',
    ]);
    // WORKDIR made its directory; the ONBUILD trigger runs in a child build
    const child = context(s.dir('b2c'), { Dockerfile: 'FROM e2e/b2\n' });
    const c = await build(['-t', 'e2e/b2c', child]);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain('# Executing 1 build trigger\n');
    expect(c.stdout).toContain('triggered\n');
    expect(await s.docker(['run', '--rm', '--entrypoint', 'ls', 'e2e/b2', '-d', '/app/sub'])).toMatchObject({ code: 0, stdout: '/app/sub\n' });
  });

  it('multi-stage: --target, FROM <stage>, COPY --from a stage and by index; stages print in order', async () => {
    const dir = context(s.dir('b3'), {
      Dockerfile: [
        'FROM busybox AS one',
        'RUN echo 1 > /one',
        'FROM busybox AS two',
        'RUN echo 2 > /two',
        'FROM one AS three',
        'COPY --from=two /two /two',
        'COPY --from=0 /one /copied',
        'FROM busybox AS unused',
        'RUN echo never',
        '',
      ].join('\n'),
    });
    const r = await build(['--target', 'three', '-t', 'e2e/b3', dir]);
    expect(r.code).toBe(0);
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('Step '));
    expect(steps).toEqual(['Step 1/7 : FROM busybox AS one', 'Step 2/7 : RUN echo 1 > /one', 'Step 3/7 : FROM busybox AS two', 'Step 4/7 : RUN echo 2 > /two', 'Step 5/7 : FROM one AS three', 'Step 6/7 : COPY --from=two /two /two', 'Step 7/7 : COPY --from=0 /one /copied']);
    expect(r.stdout).not.toContain('never');
    expect(await s.docker(['run', '--rm', 'e2e/b3', 'cat', '/one', '/two', '/copied'])).toMatchObject({ code: 0, stdout: '1\n2\n1\n' });
    const bad = await build(['--target', 'nosuch', dir]);
    expect(bad).toMatchObject({ code: 1 });
    expect(bad.stderr).toContain('Error response from daemon: failed to reach build target nosuch in Dockerfile\n');
  });

  it('a failing RUN reports dockerd\'s text and code and leaves no container', async () => {
    const before = (await s.docker(['ps', '-aq'])).stdout;
    const dir = context(s.dir('b4'), { Dockerfile: 'FROM busybox\nRUN exit 3\n' });
    const r = await build([dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    expect((await s.docker(['ps', '-aq'])).stdout).toBe(before);
  });

  it('bad input: unknown instruction, missing Dockerfile, missing COPY source, bad flag, empty FROM arg', async () => {
    const unknown = await build([context(s.dir('b5a'), { Dockerfile: 'FROM busybox\nFOO bar\n' })]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Error response from daemon: dockerfile parse error line 2: unknown instruction: FOO\n');
    const { execFileSync } = await import('node:child_process');
    const noDf = context(s.dir('b5b'), { 'other.txt': 'x' });
    const missing = await build(['-'], { input: execFileSync('tar', ['-C', noDf, '-cf', '-', 'other.txt']) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Cannot locate specified Dockerfile: Dockerfile');
    const src = await build([context(s.dir('b5c'), { Dockerfile: 'FROM busybox\nCOPY nope /x\n' })]);
    expect(src.code).toBe(1);
    expect(src.stderr).toContain('COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist');
    const flag = await build([context(s.dir('b5d'), { Dockerfile: 'FROM busybox\nCOPY --bogus=1 a /x\n' })]);
    expect(flag.stderr).toContain('dockerfile parse error line 2: Unknown flag: bogus');
    const arg = await build([context(s.dir('b5e'), { Dockerfile: 'ARG IMG\nFROM $IMG\n' })]);
    expect(arg.code).toBe(1);
    expect(arg.stderr).toContain('base name ($IMG) should not be blank');
    const mount = await build([context(s.dir('b5f'), { Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/c true\n' })]);
    expect(mount.stderr).toContain('the --mount option requires BuildKit');
  });

  it('build args: ARG defaults, --build-arg, the unused warning, ARG before FROM', async () => {
    const dir = context(s.dir('b6'), { Dockerfile: 'ARG BASE=busybox\nFROM $BASE\nARG V=default\nRUN echo "v=$V" > /v\n' });
    const r = await build(['--build-arg', 'V=given', '--build-arg', 'UNUSED=1', '-t', 'e2e/b6', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Step 1/4 : ARG BASE=busybox\n');
    expect(r.stdout).toContain('[Warning] One or more build-args [UNUSED] were not consumed\n');
    expect(await s.docker(['run', '--rm', 'e2e/b6', 'cat', '/v'])).toMatchObject({ stdout: 'v=given\n' });
    const h = await s.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'e2e/b6']);
    expect(h.stdout.split('\n')[0]).toBe('|1 V=given /bin/sh -c echo "v=$V" > /v');
    // build args and the step container's own labels stay out of the image (CommitBuildStep: config as given)
    expect(await inspect('e2e/b6', '{{json .Config.Env}} {{json .Config.Labels}}')).toBe('["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] null');
  });

  it('docker build - reads a Dockerfile from stdin; -q prints only the id', async () => {
    const r = await build(['-q', '-'], { input: 'FROM busybox\nRUN echo quiet\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('.dockerignore the CLI applies; ADD extracts a local tar; COPY globs and --chown', async () => {
    const dir = context(s.dir('b7'), {
      Dockerfile: 'FROM busybox\nADD files.tar /extracted/\nCOPY --chown=7:8 *.txt /txt/\nRUN ls /extracted /txt && stat -c %u:%g /txt/a.txt\n',
      '.dockerignore': 'secret.txt\n',
      'a.txt': 'a', 'b.txt': 'b', 'secret.txt': 's',
    });
    const { execFileSync } = await import('node:child_process');
    context(join(dir, 'tarsrc'), { 'inner/file': 'x' });
    execFileSync('tar', ['-C', join(dir, 'tarsrc'), '-cf', join(dir, 'files.tar'), 'inner']);
    const r = await build(['-t', 'e2e/b7', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/extracted:\ninner\n\n/txt:\na.txt\nb.txt\n7:8\n');
  });

  it('the steps of a failed build are Build Cache in system df, and builder prune removes them', async () => {
    const dir = context(s.dir('b8'), { Dockerfile: 'FROM busybox\nRUN echo cached > /c\nENV X=1\nRUN exit 1\n' });
    expect((await build([dir])).code).toBe(1);
    const df = await s.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}']);
    const row = df.stdout.split('\n').find((l) => l.startsWith('Build Cache'));
    const [total, active] = row!.split(' ').slice(2).map(Number);
    expect(total - active).toBeGreaterThanOrEqual(2);
    const p = await s.docker(['builder', 'prune', '-f']);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^Deleted build cache objects:\n([0-9a-f]{64}\n)+\nTotal reclaimed space: .*B\n$/);
    const after = (await s.docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}'])).stdout.split('\n').find((l) => l.startsWith('Build Cache'))!;
    const [t2, a2] = after.split(' ').slice(2).map(Number);
    expect(t2).toBe(a2);
    // the tagged images keep working, and images hides the intermediate ones
    expect((await s.docker(['run', '--rm', 'e2e/b1'])).code).toBe(0);
    expect((await s.docker(['images', '-q', '--filter', 'dangling=true'])).stdout).toBe('');
  });

  it('COPY is cached by content, not mtime: touching keeps the cache, a change invalidates from that step on', async () => {
    const dir = context(s.dir('b9'), { Dockerfile: 'FROM busybox\nRUN echo first\nCOPY data /data\nRUN cat /data\n', data: 'v1\n' });
    expect((await build(['-t', 'e2e/b9', dir])).code).toBe(0);
    const { utimesSync } = await import('node:fs');
    utimesSync(join(dir, 'data'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const touched = await build(['-t', 'e2e/b9', dir]);
    expect(touched.stdout.match(/Using cache/g)?.length).toBe(3);
    writeFileSync(join(dir, 'data'), 'v2\n');
    const changed = await build(['-t', 'e2e/b9', dir]);
    expect(changed.stdout.match(/Using cache/g)?.length).toBe(1);
    expect(changed.stdout).toContain('v2\n');
    const nocache = await build(['--no-cache', '-t', 'e2e/b9', dir]);
    expect(nocache.stdout).not.toContain('Using cache');
  });

  it('the default CLI path (no buildx, DOCKER_BUILDKIT unset) prints the DEPRECATED notice and builds with the legacy protocol', async () => {
    const dir = context(s.dir('b10'), { Dockerfile: 'FROM busybox\nRUN echo default-path\n' });
    const r = await s.docker(['build', dir], { timeoutMs: 120000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('DEPRECATED: The legacy builder is deprecated');
    expect(r.stdout).toContain('default-path\n');
    expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}\n$/);
  });
});
