import { execFile } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import type { ctrTypesMount } from '@drydock/proto';
import { KeyedLock } from '../containers/keyed-lock';
import { classifyChanges, lowerLookup, RUNTIME_MOUNTPOINTS, walkUpper, type Change } from './changes';
import { goFileMode, rfc3339Nano } from './file-mode';
import { cleanContainerPath, resolveInRoot } from './root-path';
import { extractInto, type ExtractOptions } from './tar-extract';
import { tarTree } from './tar-pack';
import { overlayLayers, RootfsMounter, runCommand, type CommandRunner, type RootfsView } from './rootfs-mounter';

type Mount = ctrTypesMount.Mount;

/** What archive operations need to know about a container (the container manager answers). */
export interface RootfsTarget {
  id: string;
  name: string;
  /** Init pid while running, else 0. */
  pid: number;
  /** The snapshot's mounts (containerd). */
  mounts: Mount[];
  readonlyRootfs: boolean;
  /** Targets of the container's bind mounts, volumes and tmpfs. */
  mountTargets: string[];
}

export interface RootfsTargets {
  rootfsTarget(ref: string): Promise<RootfsTarget>;
}

/** Docker's container path stat (X-Docker-Container-Path-Stat). */
export interface PathStatInfo {
  name: string;
  size: number;
  /** Go os.FileMode bits. */
  mode: number;
  /** RFC 3339 with nanoseconds. */
  mtime: string;
  linkTarget: string;
}

export type ArchiveItem = { stat: PathStatInfo } | { chunk: Buffer };

/** Reads one extended attribute (undefined when absent or unreadable). */
export type XattrReader = (path: string, name: string) => Promise<string | undefined>;

/**
 * docker cp / export / diff on a container's root filesystem.
 *
 * Where the files are: a running container is reached through /proc/<pid>/root
 * (the kernel's view of its root, in its own mount namespace: its volumes and
 * bind mounts included, and writes coherent with the container's own overlay
 * mount). A stopped one gets its snapshot mounted for the operation (see
 * RootfsMounter: volumes and bind mounts are not visible then, an accepted
 * difference from Docker). Export always reads the snapshot alone (Docker's
 * export excludes volumes too), diff reads the overlay layers directly.
 * Paths resolve inside the container root (resolveInRoot), never on the host.
 */
export class ArchiveManager {
  private readonly log: Logger;
  private readonly writeLock = new KeyedLock();

  constructor(
    private readonly containers: RootfsTargets,
    private readonly mounter: RootfsMounter,
    logger: Logger,
    private readonly xattr: XattrReader = getfattr(),
  ) {
    this.log = logger.child({ component: 'archive-manager' });
  }

  async statPath(ref: string, path: string): Promise<PathStatInfo> {
    const t = await this.containers.rootfsTarget(ref);
    const view = await this.view(t, false);
    try {
      return (await this.stat(view.root, ref, path)).stat;
    } finally {
      await view.release();
    }
  }

  /** The stat of `path`, then the chunks of a tar of it (named by its basename, as Docker's rebase). */
  async *getArchive(ref: string, path: string, signal?: AbortSignal): AsyncIterable<ArchiveItem> {
    const t = await this.containers.rootfsTarget(ref);
    const view = await this.view(t, false);
    try {
      const { stat, hostPath, name } = await this.stat(view.root, ref, path);
      yield { stat };
      for await (const chunk of tarTree([{ hostPath, name }], signal)) yield { chunk };
    } finally {
      await view.release();
    }
  }

  /** Extracts a tar into the existing directory `path` of the container. */
  async putArchive(ref: string, path: string, data: AsyncIterable<Buffer>, opts: ExtractOptions): Promise<void> {
    const t = await this.containers.rootfsTarget(ref);
    const abs = cleanContainerPath(path);
    if (t.readonlyRootfs && !t.mountTargets.some((m) => abs === m || abs.startsWith(m + '/'))) {
      throw new FailedPreconditionError('container rootfs is marked read-only');
    }
    // one writable mount of a stopped container's layer at a time
    await this.writeLock.run(t.id, async () => {
      const view = await this.view(t, true);
      try {
        const r = await resolveInRoot(view.root, abs, true);
        const st = await lstat(r.hostPath).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new NotFoundError(`Could not find the file ${path} in container ${ref}`);
          throw err;
        });
        if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
        await extractInto(view.root, r.containerPath, data, opts);
      } finally {
        await view.release();
      }
    });
    this.log.debug({ containerId: t.id, path: abs }, 'archive extracted');
  }

  /** docker export: the whole root filesystem (snapshot only) as a tar. */
  async *exportContainer(ref: string, signal?: AbortSignal): AsyncIterable<Buffer> {
    const t = await this.containers.rootfsTarget(ref);
    const view = await this.mounter.mount(t.mounts, false);
    try {
      yield* tarTree([{ hostPath: view.root, name: '' }], signal);
    } finally {
      await view.release();
    }
  }

  /** docker diff. */
  async changes(ref: string): Promise<Change[]> {
    const t = await this.containers.rootfsTarget(ref);
    const layers = overlayLayers(t.mounts);
    if (!layers?.upper) return [];
    const entries = await walkUpper(layers.upper, this.xattr);
    const lower = lowerLookup(layers.lowers, (p) => {
      try {
        return lstatSync(p);
      } catch {
        return undefined;
      }
    });
    return classifyChanges(entries, lower, new Set([...RUNTIME_MOUNTPOINTS, ...t.mountTargets.map(cleanContainerPath)]));
  }

  private async view(t: RootfsTarget, writable: boolean): Promise<RootfsView> {
    if (t.pid > 0) return { root: `/proc/${t.pid}/root`, release: async () => undefined };
    return this.mounter.mount(t.mounts, writable);
  }

  private async stat(root: string, ref: string, path: string): Promise<{ stat: PathStatInfo; hostPath: string; name: string }> {
    const abs = path.startsWith('/') ? path : `/${path}`;
    const notFound = () => new NotFoundError(`Could not find the file ${path} in container ${ref}`);
    const r = await resolveInRoot(root, abs, false);
    const st = await lstat(r.hostPath, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw notFound();
      throw err;
    });
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = (await resolveInRoot(root, abs, true)).containerPath;
    const trimmed = abs.replace(/\/+$/, '');
    const name = trimmed === '' ? '/' : trimmed.slice(trimmed.lastIndexOf('/') + 1);
    return {
      stat: { name, size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: rfc3339Nano(st.mtimeNs), linkTarget },
      hostPath: r.hostPath,
      // the root itself is archived as "." (its content at the top)
      name: name === '/' ? '.' : name,
    };
  }
}

/**
 * Reads an xattr with getfattr (Node has no xattr API). Without it (package
 * `attr` missing) opaque directories cannot be told apart: diff then reports
 * them as modified rather than deleted.
 */
export function getfattr(): XattrReader {
  let missing = false;
  return (path, name) =>
    missing
      ? Promise.resolve(undefined)
      : new Promise((resolve) =>
          execFile('getfattr', ['--absolute-names', '--only-values', '-n', name, path], { encoding: 'utf8', timeout: 10000 }, (err, stdout) => {
            if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') missing = true;
            resolve(err ? undefined : stdout);
          }),
        );
}

/**
 * Docker's volume copy-up: the image's content at `containerPath` (resolved in
 * the container's rootfs) copied into a fresh volume, ownership and modes kept.
 */
export class VolumeCopyUp {
  constructor(
    private readonly mounter: RootfsMounter,
    private readonly run: CommandRunner = runCommand,
  ) {}

  async copyUp(rootfs: Mount[], containerPath: string, destDir: string): Promise<void> {
    const view = await this.mounter.mount(rootfs, false);
    try {
      const r = await resolveInRoot(view.root, containerPath, true);
      const st = await lstat(r.hostPath).catch(() => undefined);
      if (!st?.isDirectory()) return;
      await this.run('cp', ['-a', '--', `${r.hostPath}/.`, `${destDir}/`]);
    } finally {
      await view.release();
    }
  }
}
