import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireCommand } from './deps';
import { ManagedProcess, type CommandSpec } from './managed-process';
import { unixSocketAnswers } from './net';

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

/** The command line of a private containerd; the stack runs it under a watchdog. */
export function containerdCommand(p: ContainerdPaths, binary = 'containerd'): CommandSpec {
  return { command: requireCommand(binary, 'containerd'), args: ['--config', p.config] };
}

/**
 * A containerd child process with its log at `paths.log`. Killing it leaves shims
 * and containers running; a restart finds them again.
 */
export class ContainerdProcess {
  private readonly proc: ManagedProcess;

  constructor(
    readonly paths: ContainerdPaths,
    private readonly binary = 'containerd',
    /** dieWithParent: SIGKILL containerd when this process dies (tests); shims live on regardless. */
    opts: { dieWithParent?: boolean } = {},
  ) {
    this.proc = new ManagedProcess({
      name: 'containerd',
      command: () => containerdCommand(this.paths, this.binary),
      logPath: paths.log,
      // The socket file outlives a SIGKILLed containerd, so only an answer counts.
      ready: () => unixSocketAnswers(this.paths.address),
      dieWithParent: opts.dieWithParent,
    });
  }

  /** Starts containerd (or does nothing if it already runs) and waits until its socket answers. */
  async start(timeoutMs = 20000): Promise<void> {
    if (this.proc.running) return;
    mkdirSync(this.paths.dir, { recursive: true });
    if (!existsSync(this.paths.config)) writeContainerdConfig(this.paths);
    await this.proc.start(timeoutMs);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.running;
  }

  /** SIGKILLs containerd, as a crash would. */
  async kill(): Promise<void> {
    await this.proc.kill();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc.stop(signal);
  }
}
