import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { ctrTypesMount } from '@drydock/proto';

type Mount = ctrTypesMount.Mount;

/** Runs a command (mount, umount, cp); rejects with its stderr. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<void>;

export const runCommand: CommandRunner = (cmd, args) =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: 120000, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) =>
      err ? reject(new InternalError(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`, { cause: err })) : resolve(),
    ),
  );

/** A mounted view of a container's root filesystem; `release` unmounts it (idempotent). */
export interface RootfsView {
  root: string;
  release(): Promise<void>;
}

/** Parsed overlay options of a snapshot mount (top layer first). */
export interface OverlayLayers {
  upper?: string;
  work?: string;
  lowers: string[];
}

export function overlayLayers(mounts: Mount[]): OverlayLayers | undefined {
  const m = mounts[0];
  if (!m) return undefined;
  if (m.type === 'bind') return m.source ? { upper: m.source, lowers: [] } : undefined;
  const opt = (k: string) => m.options?.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  return { upper: opt('upperdir'), work: opt('workdir'), lowers: opt('lowerdir')?.split(':') ?? [] };
}

/**
 * Mounts a container's snapshot (containerd's mounts for it) on a private
 * directory under `dir`, for the duration of one operation. Read-only views
 * stack the writable layer as the top lower dir (no upperdir/workdir), so they
 * never contend with the container's own mount for the work dir. Writable
 * views use the snapshot's own options; callers serialise them per container.
 *
 * Only the snapshot is visible this way: the container's bind mounts and
 * volumes are not (running containers are reached through /proc/<pid>/root
 * instead, which sees them).
 */
export class RootfsMounter {
  private readonly log: Logger;

  constructor(
    private readonly dir: string,
    logger: Logger,
    private readonly run: CommandRunner = runCommand,
  ) {
    this.log = logger.child({ component: 'rootfs-mounter' });
  }

  async mount(mounts: Mount[], writable: boolean): Promise<RootfsView> {
    const m = mounts[0];
    const layers = overlayLayers(mounts);
    if (!m || !layers) throw new InternalError('container snapshot has no mounts');
    // a bind snapshot (no parent) is a plain directory: use it where it is
    if (m.type === 'bind') return { root: layers.upper!, release: async () => undefined };
    let options: string[];
    if (writable) options = m.options ?? [];
    else {
      const stack = [...(layers.upper ? [layers.upper] : []), ...layers.lowers];
      if (stack.length === 1) return { root: stack[0], release: async () => undefined };
      options = [`lowerdir=${stack.join(':')}`];
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = join(this.dir, randomBytes(8).toString('hex'));
    await mkdir(target, { mode: 0o700 });
    try {
      await this.run('mount', ['-t', m.type || 'overlay', m.source || 'overlay', '-o', options.join(','), target]);
    } catch (err) {
      await rmdir(target).catch(() => undefined);
      throw err;
    }
    let released = false;
    return {
      root: target,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.run('umount', [target]);
        } catch (err) {
          // still busy (a reader lingers): detach it so it goes when the last user does
          this.log.warn({ err, target }, 'umount failed; detaching lazily');
          await this.run('umount', ['-l', target]).catch(() => undefined);
        }
        await rmdir(target).catch(() => undefined);
      },
    };
  }
}
