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
      Dockerfile: 'FROM busybox\nENV A=1\nRUN echo hello > /x && echo out && echo err >&2\nCOPY f.txt /f.txt\nCMD ["cat", "/x", "/f.txt"]\n',
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
        'Step 3/5 : RUN echo hello > /x && echo out && echo err >&2',
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
});
