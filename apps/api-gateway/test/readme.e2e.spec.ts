// The README's quick start, run as written against a private stack: the only changes are the
// socket (the stack's, not /run/drydock) and the rootfs directory (a private one, not /tmp/rootfs).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { useDockerStack } from './support/stack';
import { out } from './support/expect';

const README = resolve(__dirname, '../../../README.md');

/** The first ```sh block after the "A first container" paragraph. */
function quickStartBlock(readme: string): string {
  const at = readme.indexOf('A first container');
  if (at < 0) throw new Error('README has no "A first container" paragraph');
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error('README has no sh block after "A first container"');
  return m[1];
}

describe('README quick start', () => {
  const s = useDockerStack('e2erm');

  it('the first container works as the README writes it', async () => {
    const block = quickStartBlock(readFileSync(README, 'utf8'));
    expect(block).toMatch(/^export DOCKER_HOST=unix:\/\/\/run\/drydock\/docker\.sock$/m);
    expect(block).toContain('/tmp/rootfs');
    const rootfs = join(s.dir('readme'), 'rootfs');
    const script = block.replace(/^export DOCKER_HOST=.*$/m, `export DOCKER_HOST=unix://${s.socket}`).replaceAll('/tmp/rootfs', rootfs);
    const r = await s.spawnCli([], { shell: `set -eu\n${script}`, timeoutMs: 60000 }).done;
    expect(out(r)).toEqual({ code: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\nhello\n$/), stderr: '' });
    // the image is a usable busybox: the applets the user ran, and a shell by default
    expect(out(await s.docker(['run', '--rm', 'busybox', 'echo', 'hi']))).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    expect(out(await s.docker(['run', '--rm', 'busybox', 'sh', '-c', 'ls / | head -1; which wget']))).toEqual({ code: 0, stdout: 'bin\n/bin/wget\n', stderr: '' });
    expect(out(await s.docker(['run', '--rm', '-i', 'busybox'], { input: 'echo from-sh\n' }))).toEqual({ code: 0, stdout: 'from-sh\n', stderr: '' });
  });
});
