import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait';

export interface ContainerdPaths {
  /** Directory holding config, root, state and the socket. */
  dir: string;
  root: string;
  state: string;
  address: string;
  config: string;
  log: string;
}

/** The directory layout of a private containerd under `dir`. */
export function containerdPaths(dir: string): ContainerdPaths {
  return {
    dir,
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    // unix socket paths are limited to 108 bytes: keep the name short
    address: join(dir, 'c.sock'),
    config: join(dir, 'config.toml'),
    log: join(dir, 'containerd.log'),
  };
}

/**
 * Writes a containerd 1.6 config for a private instance: own root, state and
 * socket, no CRI, overlayfs snapshotter. Several instances coexist on one host.
 */
export function writeContainerdConfig(p: ContainerdPaths): void {
  mkdirSync(p.root, { recursive: true });
  mkdirSync(p.state, { recursive: true });
  writeFileSync(
    p.config,
    [
      'version = 2',
      `root = ${JSON.stringify(p.root)}`,
      `state = ${JSON.stringify(p.state)}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      '[grpc]',
      `  address = ${JSON.stringify(p.address)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(p.address + '.ttrpc')}`,
      '[debug]',
      '  address = ""',
      '  level = "warn"',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
}

/** A containerd child process. Killing it leaves shims and containers running. */
export class ContainerdProcess {
  private child?: ChildProcess;
  constructor(readonly paths: ContainerdPaths, private readonly binary = 'containerd') {}

  /** Starts containerd (or does nothing if it already runs) and waits for its socket. */
  async start(timeoutMs = 20000): Promise<void> {
    if (this.child && this.child.exitCode === null) return;
    if (!existsSync(this.paths.config)) writeContainerdConfig(this.paths);
    const out = openSync(this.paths.log, 'a');
    this.child = spawn(this.binary, ['--config', this.paths.config], { stdio: ['ignore', out, out], detached: false });
    const child = this.child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`containerd exited with ${child.exitCode}; see ${this.paths.log}`);
      return existsSync(this.paths.address);
    }, timeoutMs, 'containerd socket');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILLs containerd, as a crash would. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }
}
