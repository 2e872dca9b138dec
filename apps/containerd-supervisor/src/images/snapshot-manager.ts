import { AlreadyExistsError, FailedPreconditionError, isAlreadyExists, isNotFound } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { ctrSnapshots, type ctrTypesMount } from '@drydock/proto';
import type { ContainerdClient } from '../containerd/containerd-client';
import { LEASE_HEADER } from './content';
import { GC_LABELS } from './image-model';

export type Mount = ctrTypesMount.Mount;

export interface SnapshotManagerOptions {
  snapshotter: string;
  /**
   * How long a fresh container snapshot is protected before a container record
   * must reference it. Past this, if the container was never created (a crash
   * between Prepare and Containers.Create), containerd's GC collects it.
   */
  leaseExpiryMs?: number;
}

/**
 * Containers' writable root filesystems: active snapshots named after the
 * container id on top of an image's chain id. A new snapshot is held by a
 * short-lived, self-expiring lease until the container record (whose
 * SnapshotKey is a GC root) takes over; nothing needs to be released by hand.
 */
export class SnapshotManager {
  private readonly log: Logger;
  private readonly snapshotter: string;
  private readonly leaseExpiryMs: number;

  constructor(
    private readonly cc: ContainerdClient,
    logger: Logger,
    opts: SnapshotManagerOptions,
  ) {
    this.log = logger.child({ component: 'snapshot-manager' });
    this.snapshotter = opts.snapshotter;
    this.leaseExpiryMs = opts.leaseExpiryMs ?? 60 * 60 * 1000;
  }

  /**
   * Prepares the snapshot `containerId` on top of `parentChainId` and returns
   * its mounts (for overlayfs: one overlay mount, or a bind mount for an empty
   * parent). Idempotent: a snapshot already prepared on the same parent (a retry
   * after a crash) is reused; one on another parent is an AlreadyExistsError.
   */
  async prepare(containerId: string, parentChainId: string): Promise<Mount[]> {
    const leaseId = await this.ensureLease(containerId);
    try {
      const res = await this.cc.unary(
        this.cc.snapshots,
        this.cc.snapshots.prepare,
        { snapshotter: this.snapshotter, key: containerId, parent: parentChainId || undefined },
        { metadata: { [LEASE_HEADER]: leaseId } },
      );
      return res.mounts ?? [];
    } catch (err) {
      if (isNotFound(err)) {
        throw new FailedPreconditionError(`image layers ${parentChainId} are not unpacked in the ${this.snapshotter} snapshotter`, { cause: err });
      }
      if (!isAlreadyExists(err)) throw err;
      const info = await this.cc.unary(this.cc.snapshots, this.cc.snapshots.stat, { snapshotter: this.snapshotter, key: containerId });
      if ((info.info?.parent ?? '') !== parentChainId) {
        throw new AlreadyExistsError(`snapshot ${containerId} already exists on another image`, { cause: err });
      }
      return this.mounts(containerId);
    }
  }

  /** The mounts of a container's snapshot (NotFoundError if it has none). */
  async mounts(containerId: string): Promise<Mount[]> {
    const res = await this.cc.unary(this.cc.snapshots, this.cc.snapshots.mounts, { snapshotter: this.snapshotter, key: containerId });
    return res.mounts ?? [];
  }

  /** Removes a container's snapshot and its lease; nothing to remove is fine. */
  async remove(containerId: string): Promise<void> {
    try {
      await this.cc.unary(this.cc.snapshots, this.cc.snapshots.remove, { snapshotter: this.snapshotter, key: containerId });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.release(containerId);
  }

  /**
   * Drops the protective lease early, once the container record references the
   * snapshot (optional: the lease expires on its own).
   */
  async release(containerId: string): Promise<void> {
    try {
      await this.cc.unary(this.cc.leases, this.cc.leases.delete, { id: leaseIdFor(containerId) });
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ err, containerId }, 'container snapshot lease delete failed');
    }
  }

  /**
   * Removes container snapshots (active, named by a container id) that no container
   * in `containerIds` owns: a supervisor killed between Prepare and Containers.Create,
   * or between a container's delete and its snapshot's, leaves one, and waiting for
   * the lease to expire or the GC to run would leave it half-made for up to an hour.
   * Call before anything can prepare a new one (at load). Returns the removed keys.
   */
  async removeOrphans(containerIds: Set<string>): Promise<string[]> {
    const infos: { name?: string; kind?: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = this.cc.serverStream(this.cc.snapshots, this.cc.snapshots.list, { snapshotter: this.snapshotter });
      stream.on('data', (r: { info?: { name?: string; kind?: number }[] }) => infos.push(...(r.info ?? [])));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    const removed: string[] = [];
    for (const i of infos) {
      const key = i.name ?? '';
      if (i.kind !== ctrSnapshots.Kind.ACTIVE || !/^[0-9a-f]{64}$/.test(key) || containerIds.has(key)) continue;
      try {
        await this.remove(key);
        removed.push(key);
      } catch (err) {
        this.log.warn({ err, key }, 'orphan container snapshot not removed');
      }
    }
    if (removed.length) this.log.warn({ snapshots: removed }, 'removed container snapshots a crash left without a container');
    return removed;
  }

  /** Bytes in the container's writable layer (`docker ps -s`, system df); 0 if it has none. */
  async usage(containerId: string): Promise<number> {
    try {
      const res = await this.cc.unary(this.cc.snapshots, this.cc.snapshots.usage, { snapshotter: this.snapshotter, key: containerId });
      return Number(res.size ?? 0);
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
  }

  private async ensureLease(containerId: string): Promise<string> {
    const id = leaseIdFor(containerId);
    const expire = new Date(Date.now() + this.leaseExpiryMs).toISOString();
    try {
      await this.cc.unary(this.cc.leases, this.cc.leases.create, { id, labels: { [GC_LABELS.expire]: expire } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return id;
  }
}

/** containerd validates lease ids as identifiers (at most 76 characters): a 64-hex container id leaves room for a short prefix. */
function leaseIdFor(containerId: string): string {
  return `snap-${containerId}`;
}
