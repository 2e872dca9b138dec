import type { KV, KvEntry, NatsConnection, QueuedIterator } from 'nats';
import { InternalError, PermissionDeniedError, UnavailableError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { decodeJson, encodeJson, followKv, getJson, isKeyExists, mutateJson, retryTransientKv, unchanged } from '@drydock/cluster';
import { parseIp } from '../cidr';
import { activeEndpoints, admitNetwork, isMark, leasable, networkNotFound, nextAddress, REMOVING_STALE_MS, staleRemoving, withState, without, type OverlayTable } from './overlay-rules';
import type { CreateOverlayInput, LeaseOwner, OverlayEndpoint, OverlayNetworkRecord, OverlayStore } from './overlay-types';
import { ViewedOverlayStore } from './overlay-view';

/**
 * The cluster's overlay state, one bucket:
 * - `networks`: the OverlayTable, written at the revision read (name, subnet, VNI in one CAS);
 * - `lease.<netId>.<ip as integer>`: a LeaseOwner, taken with kv.create (one winner per address);
 * - `ep.<netId>.<endpointId>`: an OverlayEndpoint, written by the node that owns it;
 * - `subnets.<nodeId>`: that node's local (bridge) subnets.
 */
export const OVERLAY_BUCKET = 'drydock_overlay';

/**
 * Opens (or makes) the bucket. No direct gets: a get must be answered by the stream leader, as
 * the lease/remove protocol reads after its write and a follower may not have that write yet.
 */
export function openOverlayBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  return nc.jetstream({ timeout: 5000 }).views.kv(OVERLAY_BUCKET, { history: 1, replicas, allow_direct: false });
}

export interface KvOverlayStoreOptions {
  kv: KV;
  nodeId: string;
  logger: Logger;
  /** How long a call rides out JetStream without a leader (a NATS server lost). Default 10000 ms. */
  leaderlessForMs?: number;
  /** How often the watch is checked against the bucket's last revision. Default 2000 ms. */
  watchCheckMs?: number;
}

const NETWORKS = 'networks';
const leaseKey = (netId: string, ip: number): string => `lease.${netId}.${ip}`;
const epKey = (netId: string, epId: string): string => `ep.${netId}.${epId}`;

/**
 * OverlayStore on NATS KV. Caches follow the bucket through one watch and take our own
 * writes at once (read-your-writes); a key's revision orders the two, so a watch event
 * older than a write of ours never undoes it. Only caches that serve as hints (which
 * addresses look free) may lag: every decision that must hold cluster-wide is a
 * revision-checked write or a read at the stream leader.
 */
export class KvOverlayStore extends ViewedOverlayStore implements OverlayStore {
  private readonly log: Logger;
  private readonly kv: KV;
  private readonly leaderlessForMs: number;
  /** Revision of each key as last applied. */
  private readonly revs = new Map<string, number>();
  private readonly subnets = new Map<string, string[]>();
  /** Addresses this process is taking now (netId -> ips), so its concurrent leases try different ones. */
  private readonly pending = new Map<string, Set<number>>();
  private watch?: QueuedIterator<KvEntry>;
  private refollow?: NodeJS.Timeout;
  private checker?: NodeJS.Timeout;
  private checking = false;
  /** The highest revision the watch delivered, and the bucket's last one at the previous check. */
  private watchedRev = 0;
  private checkedSeq?: number;
  private closed = false;
  private tableRead?: Promise<OverlayTable>;
  private nextTableRead?: Promise<OverlayTable>;

  constructor(private readonly opts: KvOverlayStoreOptions) {
    super();
    this.kv = opts.kv;
    this.log = opts.logger.child({ component: 'overlay-store' });
    this.leaderlessForMs = opts.leaderlessForMs ?? 10000;
  }

  async start(): Promise<void> {
    await this.follow();
    this.checker = setInterval(() => void this.checkWatch(), this.opts.watchCheckMs ?? 2000);
    this.checker.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.refollow);
    clearInterval(this.checker);
    this.watch?.stop();
    this.watch = undefined;
  }

  /**
   * The watch, again after it failed (nats.js gives an ordered consumer up when it cannot make it
   * again): the values it reads first are applied by revision, so nothing goes back in time.
   */
  private async follow(): Promise<void> {
    const again = (): void => {
      if (this.closed) return;
      this.refollow = setTimeout(() => void this.follow().catch((err) => (this.log.warn({ err }, 'overlay watch failed; retrying'), again())), 1000);
      this.refollow.unref();
    };
    this.checkedSeq = undefined;
    this.watch = await followKv(
      this.kv,
      '>',
      (e) => {
        this.watchedRev = Math.max(this.watchedRev, e.revision);
        this.apply(e.key, e.revision, decodeJson<unknown>(e));
      },
      this.log,
      () => again(),
    );
  }

  /**
   * A watch whose consumer was lost with a NATS server delivers nothing until nats.js misses two
   * 5 s heartbeats and makes it again, or never if that fails quietly: when the watch has not
   * reached what the bucket held at the previous check, it is stopped (and so followed again).
   */
  private async checkWatch(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      const last = (await this.kv.status()).streamInfo.state.last_seq;
      if (this.checkedSeq !== undefined && this.watchedRev < this.checkedSeq) {
        this.log.warn({ watched: this.watchedRev, bucket: this.checkedSeq }, 'overlay watch behind the bucket; following again');
        this.watch?.stop();
        this.checkedSeq = undefined;
      } else this.checkedSeq = last;
    } catch {
      // NATS away: the next check
    } finally {
      this.checking = false;
    }
  }

  async createNetwork(input: CreateOverlayInput): Promise<OverlayNetworkRecord> {
    let made!: OverlayNetworkRecord;
    let table!: OverlayTable;
    // revision-checked, and a repeat after a lost answer finds its own record: safe to retry
    const rev = await this.retry(() =>
      mutateJson<OverlayTable>(this.kv, NETWORKS, (cur) => {
        const t = cur ?? {};
        made = admitNetwork(t, input, this.foreignSubnets());
        table = { ...t, [made.id]: made };
        return t[made.id] ? unchanged : table;
      }),
    );
    if (rev !== undefined) this.apply(NETWORKS, rev, table);
    return made;
  }

  async removeNetwork(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      // a fresh mark of another remove is shared (it lists the same leases); a stale one is made again
      const marked = await this.writeTable((t) => (t[id]?.state === 'removing' && !staleRemoving(t[id], REMOVING_STALE_MS, now) ? unchanged : withState(t, id, 'removing', now)));
      const n = marked[id];
      let outcome: Awaited<ReturnType<KvOverlayStore['settleMarked']>>;
      try {
        outcome = await this.settleMarked(n);
      } catch (err) {
        // not known to be unused: leases may go on (a mark left by a crash here is recovered later)
        await this.unmark(n).catch(() => undefined);
        throw err;
      }
      if (outcome === 'held') throw activeEndpoints(n);
      if (outcome === 'removed') return;
      // the mark was undone (another remove found leases) or recovered meanwhile: judge again
      if (attempt >= 3) throw new UnavailableError(`network ${n.name} id ${id} is being changed by another node; try again`);
    }
  }

  async recoverRemoving(staleMs: number): Promise<{ reverted: string[]; removed: string[] }> {
    const out = { reverted: [] as string[], removed: [] as string[] };
    const now = Date.now();
    for (const n of Object.values(await this.readTable())) {
      if (!staleRemoving(n, staleMs, now)) continue;
      const outcome = await this.settleMarked(n);
      if (outcome === 'held') out.reverted.push(n.id);
      else if (outcome === 'removed') out.removed.push(n.id);
    }
    if (out.reverted.length || out.removed.length) this.log.warn(out, 'settled overlay networks a remove left removing');
    return out;
  }

  /**
   * After the mark `n` carries: no lease can succeed any more (lease re-reads the state after its
   * create), so what is listed now is all. Held: the mark undone ('held'); none: the network
   * deleted ('removed', also when another node deleted it first). Every write is checked against
   * the mark: 'moved' when it was undone or made again meanwhile (then nothing is written).
   */
  private async settleMarked(n: OverlayNetworkRecord): Promise<'held' | 'removed' | 'moved'> {
    const held = await this.retry(() => this.listLeases(n.id));
    if (held.size) {
      this.view.setLeases(n.id, held);
      return (await this.unmark(n)) ? 'held' : 'moved';
    }
    let outcome: 'removed' | 'moved' = 'removed';
    // (called again on a revision conflict: the outcome is the last call's)
    await this.writeTable((t) => {
      outcome = !t[n.id] || isMark(t[n.id], n.removingSince) ? 'removed' : 'moved';
      return t[n.id] && outcome === 'removed' ? without(t, n.id) : unchanged;
    });
    if (outcome === 'removed') for (const ep of this.view.endpoints(n.id)) this.view.setEndpoint(n.id, ep.endpointId, undefined);
    return outcome;
  }

  /** Back to 'ready' if still under `n`'s mark: whether this call undid it. */
  private async unmark(n: OverlayNetworkRecord): Promise<boolean> {
    let ours = false;
    await this.writeTable((t) => {
      ours = isMark(t[n.id], n.removingSince);
      return ours ? withState(t, n.id, 'ready') : unchanged;
    });
    return ours;
  }

  async lease(networkId: string, requested: string, owner: LeaseOwner): Promise<{ ip: string; prefix: number; gateway: string }> {
    // a network another node made a moment ago may not have reached the watch yet
    if (this.view.network(networkId)?.state !== 'ready') await this.readTable();
    const n = leasable(this.view.network(networkId), networkId);
    const pending = this.pending.get(networkId) ?? new Set<number>();
    this.pending.set(networkId, pending);
    let refreshed = false;
    for (;;) {
      let a: ReturnType<typeof nextAddress>;
      try {
        // the view is a hint that may lag a release: a requested address is checked by its create alone
        a = nextAddress(n, requested ? [] : [...this.view.held(networkId), ...pending], requested);
      } catch (err) {
        // the view said full: it may hold addresses given back that it has not seen go; list once
        if (requested || refreshed || !(err instanceof InternalError)) throw err;
        refreshed = true;
        this.view.setLeases(networkId, await this.retry(() => this.listLeases(networkId)));
        continue;
      }
      pending.add(a.n);
      try {
        const got = await this.take(networkId, a.n, owner);
        if (!got) {
          if (requested) throw new PermissionDeniedError('Address already in use');
          continue;
        }
      } finally {
        pending.delete(a.n);
      }
      await this.confirmReady(networkId, a.ip, owner);
      return { ip: a.ip, prefix: a.prefix, gateway: a.gateway };
    }
  }

  async release(networkId: string, ip: string, endpointId: string): Promise<void> {
    const n = parseIp(ip);
    if (n === undefined) return;
    const key = leaseKey(networkId, n);
    // a read and a delete at the revision read: safe to repeat
    await this.retry(async () => {
      const cur = await getJson<LeaseOwner>(this.kv, key);
      if (cur?.value.endpointId !== endpointId) return;
      await this.kv.delete(key, { previousSeq: cur.revision });
    });
    if (this.view.holder(networkId, n)?.endpointId === endpointId) this.view.setLease(networkId, n, null);
  }

  async publish(ep: OverlayEndpoint): Promise<void> {
    const key = epKey(ep.networkId, ep.endpointId);
    const rev = await this.retry(() => this.kv.put(key, encodeJson(ep)));
    this.apply(key, rev, ep);
  }

  async withdraw(networkId: string, endpointId: string): Promise<void> {
    await this.retry(() => this.kv.delete(epKey(networkId, endpointId)));
    // the revision of the delete is not returned: the put it follows stays the key's last known, so its watch event is ignored
    this.view.setEndpoint(networkId, endpointId, undefined);
  }

  async publishLocalSubnets(nodeId: string, subnets: string[]): Promise<void> {
    const key = `subnets.${nodeId}`;
    const rev = await this.retry(() => this.kv.put(key, encodeJson(subnets)));
    this.apply(key, rev, subnets);
  }

  /**
   * Creates the lease key: true when ours, false when held. A key that exists is someone
   * else's (noted in the view until the watch tells whose), unless a create of ours failed
   * without an answer and is repeated: then the holder is read, as the first may have landed.
   */
  private async take(networkId: string, ip: number, owner: LeaseOwner): Promise<boolean> {
    const key = leaseKey(networkId, ip);
    let unsure = false;
    return this.retry(async () => {
      try {
        const rev = await this.kv.create(key, encodeJson(owner));
        this.apply(key, rev, owner);
        return true;
      } catch (err) {
        if (!isKeyExists(err)) {
          unsure = true;
          throw err;
        }
      }
      if (!unsure) {
        if (!this.view.holder(networkId, ip)) this.view.setLease(networkId, ip, undefined);
        return false;
      }
      const cur = await getJson<LeaseOwner>(this.kv, key);
      if (cur) this.apply(key, cur.revision, cur.value);
      return !!cur && cur.value.endpointId === owner.endpointId && cur.value.nodeId === owner.nodeId;
    });
  }

  /** The network must still be ready once the lease is in (a remove marks it before it lists leases). */
  private async confirmReady(networkId: string, ip: string, owner: LeaseOwner): Promise<void> {
    if ((await this.freshTable())[networkId]?.state === 'ready') return;
    await this.release(networkId, ip, owner.endpointId);
    throw networkNotFound(networkId);
  }

  /**
   * The table read by a get that starts after this call: concurrent leases share one (the one in
   * flight may have started before their creates landed, so they wait for the next).
   */
  private freshTable(): Promise<OverlayTable> {
    if (!this.tableRead) {
      this.tableRead = this.readTable().finally(() => (this.tableRead = undefined));
      return this.tableRead;
    }
    this.nextTableRead ??= this.tableRead
      .catch(() => undefined)
      .then(() => {
        this.nextTableRead = undefined;
        return this.freshTable();
      });
    return this.nextTableRead;
  }

  /** The leases of a network as the stream holds them now (kv.keys: no values, then one get each). */
  private async listLeases(networkId: string): Promise<Map<number, LeaseOwner | undefined>> {
    const out = new Map<number, LeaseOwner | undefined>();
    const prefix = `lease.${networkId}.`;
    for await (const k of await this.kv.keys(`${prefix}>`)) out.set(Number(k.slice(prefix.length)), this.view.holder(networkId, Number(k.slice(prefix.length))));
    return out;
  }

  /** The networks as the stream leader has them now. */
  private async readTable(): Promise<OverlayTable> {
    const t = await this.retry(() => getJson<OverlayTable>(this.kv, NETWORKS));
    if (t) this.apply(NETWORKS, t.revision, t.value);
    return t?.value ?? {};
  }

  private async writeTable(change: (t: OverlayTable) => OverlayTable | typeof unchanged): Promise<OverlayTable> {
    let next!: OverlayTable;
    const rev = await this.retry(() =>
      mutateJson<OverlayTable>(this.kv, NETWORKS, (cur) => {
        const r = change(cur ?? {});
        next = r === unchanged ? cur ?? {} : r;
        return r;
      }),
    );
    if (rev !== undefined) this.apply(NETWORKS, rev, next);
    return next;
  }

  private foreignSubnets(): string[] {
    return [...this.subnets].filter(([node]) => node !== this.opts.nodeId).flatMap(([, s]) => s);
  }

  /** One key's value at `rev` (undefined: deleted), unless a later revision of it was applied. */
  private apply(key: string, rev: number, value: unknown): void {
    if ((this.revs.get(key) ?? 0) >= rev) return;
    this.revs.set(key, rev);
    const [kind, a, b] = key.split('.');
    if (key === NETWORKS) this.view.setTable((value as OverlayTable | undefined) ?? {});
    else if (kind === 'ep' && a && b) this.view.setEndpoint(a, b, value as OverlayEndpoint | undefined);
    else if (kind === 'lease' && a && b) this.view.setLease(a, Number(b), value === undefined ? null : (value as LeaseOwner));
    else if (kind === 'subnets' && a) {
      const node = key.slice('subnets.'.length);
      if (value === undefined) this.subnets.delete(node);
      else this.subnets.set(node, value as string[]);
    }
  }

  private retry<T>(call: () => Promise<T>): Promise<T> {
    return retryTransientKv(call, this.leaderlessForMs);
  }
}
