// The same Dockerfiles built by Debian's dockerd 20.10 (legacy builder, a private instance) and by
// Drydock, with the same docker CLI: the streams (ids masked), the image configs and the history texts
// must be the same. Needs /usr/sbin/dockerd (`bash tools/install/ensure-deps.sh --dockerd`).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBusyboxRootfsTar } from '@drydock/testing';
import { DockerEngine, DrydockEngine, findDockerCli, type Engine } from './engines';

const cli = findDockerCli();

function docker(e: Engine, args: string[], dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(cli, args, { env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, DOCKER_HOST: `unix://${e.socket}`, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d));
    c.stderr.on('data', (d: Buffer) => (stderr += d));
    c.on('close', (code) => res({ code, stdout, stderr }));
  });
}

/** Ids, sizes and the CLI's context line differ by nature between engines, and so do the boundaries of a
 * step's output messages (one per pipe read: the CLI colours each stderr message, so `+ true` read in three
 * pieces prints three coloured runs); adjacent stderr runs are joined. */
const mask = (s: string) =>
  s
    .split('\x1b[0m\x1b[91m')
    .join('')
    .replace(/sha256:[0-9a-f]{64}/g, 'sha256:<id>')
    .replace(/\b[0-9a-f]{64}\b/g, '<id64>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id>')
    .replace(/^Sending build context[^\n]*\n/, '');

const CASES: Record<string, Record<string, string>> = {
  metadata: {
    Dockerfile: 'FROM busybox\nENV A=1 B="two words"\nLABEL x=y\nEXPOSE 80/tcp 53/udp\nVOLUME ["/v"]\nUSER 1:2\nWORKDIR /w\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=30s CMD true\nENTRYPOINT ["sh"]\nCMD ["-c", "echo"]\nONBUILD RUN true\n',
  },
  run_and_copy: { Dockerfile: 'FROM busybox\nARG V=1\nRUN echo $V > /v\nCOPY a.txt /a/\nCOPY dir /dir\nADD a.txt /b.txt\nSHELL ["/bin/sh", "-xc"]\nRUN true\n', 'a.txt': 'a\n', 'dir/x': 'x\n' },
  multistage: { Dockerfile: 'FROM busybox AS one\nRUN echo 1 > /1\nFROM busybox\nCOPY --from=one /1 /1\nCMD cat /1\n' },
  failing: { Dockerfile: 'FROM busybox\nRUN echo before && exit 7\n' },
  unknown: { Dockerfile: 'FROM busybox\nBOGUS x\n' },
  missing_source: { Dockerfile: 'FROM busybox\nCOPY nothere /x\n' },
};

describe('docker build: Drydock against dockerd 20.10', () => {
  const dd = new DrydockEngine();
  const dk = new DockerEngine();
  let dir = '';
  beforeAll(async () => {
    await Promise.all([dd.start(), dk.start()]);
    dir = join(dk.dir, 'compare');
    mkdirSync(dir, { recursive: true });
    const tar = join(dir, 'busybox.tar');
    await buildBusyboxRootfsTar(tar);
    for (const e of [dd, dk]) await docker(e, ['import', '-c', 'CMD ["/bin/sh"]', tar, 'busybox:latest'], dir);
  }, 300000);
  afterAll(async () => {
    await Promise.allSettled([dd.stop(), dk.stop()]);
  }, 120000);

  for (const [name, files] of Object.entries(CASES)) {
    it(`${name}: same stream, exit code, config and history`, async () => {
      const ctx = join(dir, name);
      for (const [f, c] of Object.entries(files)) {
        mkdirSync(join(ctx, f, '..'), { recursive: true });
        writeFileSync(join(ctx, f), c);
      }
      const [a, b] = [await docker(dd, ['build', '--network', 'none', '-t', `cmp/${name}`, ctx], dir), await docker(dk, ['build', '--network', 'none', '-t', `cmp/${name}`, ctx], dir)];
      expect({ code: a.code, stdout: mask(a.stdout), stderr: mask(a.stderr) }).toEqual({ code: b.code, stdout: mask(b.stdout), stderr: mask(b.stderr) });
      if (a.code !== 0) return;
      const fmt = '{{json .Config}}|{{json .ContainerConfig.Cmd}}|{{.Author}}|{{.Os}}|{{len .RootFS.Layers}}';
      const [ia, ib] = [await docker(dd, ['image', 'inspect', '-f', fmt, `cmp/${name}`], dir), await docker(dk, ['image', 'inspect', '-f', fmt, `cmp/${name}`], dir)];
      expect(mask(ia.stdout)).toBe(mask(ib.stdout));
      const hf = ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', `cmp/${name}`];
      const [ha, hb] = [await docker(dd, hf, dir), await docker(dk, hf, dir)];
      expect(mask(ha.stdout)).toBe(mask(hb.stdout));
    }, 120000);
  }
});
