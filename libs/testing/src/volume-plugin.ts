import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from '@drydock/infra';

// not under native/: tools/build makes Node add-ons of the libs' native/*.c; only tests and the bench build this.
// From the repo root: this file runs from libs/testing/src and bundled from dist/tools/bench, both 3 levels down.
const SOURCE = join(resolve(__dirname, '../../..'), 'libs/testing/fixtures/volume-plugin.c');

/** Builds the test volume plugin (volume-plugin.c) as a static binary into `dir`; its path. */
export function buildVolumePlugin(dir: string): string {
  const out = join(dir, 'volume-plugin');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', out, SOURCE], { stdio: 'inherit' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('gcc not found: install gcc and libc6-dev (tools/install/ensure-deps.sh does)');
    throw err;
  }
  return out;
}

/** One running test plugin: its socket, its volumes directory and the calls it saw. */
export class TestVolumePlugin {
  private child?: ChildProcess;

  constructor(
    readonly binary: string,
    readonly socket: string,
    /** Volumes live in `<dir>/volumes/<name>`; calls.log, hang and garbage are here too. */
    readonly dir: string,
    private readonly scope: 'local' | 'global' = 'local',
  ) {}

  async start(): Promise<this> {
    mkdirSync(this.dir, { recursive: true });
    // a killed plugin leaves its socket behind: wait for the new one, not the stale one
    rmSync(this.socket, { force: true });
    const child = spawn(this.binary, ['--socket', this.socket, '--dir', this.dir, '--scope', this.scope], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`test volume plugin exited with ${child.exitCode}`);
      return existsSync(this.socket);
    }, 5000, 'test volume plugin socket');
    return this;
  }

  /** Calls seen, one "Method Name ID" line each (Plugin.Activate, Create, Mount, ...). */
  calls(): string[] {
    const f = join(this.dir, 'calls.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.trim()) : [];
  }

  /** Methods that from now on never answer ("*" for all). */
  hang(...methods: string[]): void {
    writeFileSync(join(this.dir, 'hang'), methods.join('\n'));
  }

  /** Methods that from now on answer a body that is not JSON. */
  garbage(...methods: string[]): void {
    writeFileSync(join(this.dir, 'garbage'), methods.join('\n'));
  }

  /** Back to answering everything. */
  heal(): void {
    writeFileSync(join(this.dir, 'hang'), '');
    writeFileSync(join(this.dir, 'garbage'), '');
  }

  /** Kills the plugin; its hanging connection children die with it (PR_SET_PDEATHSIG). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await done;
  }
}
