import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedLock } from '../../containers/keyed-lock';
import { parseIp } from '../cidr';
import { atomicWrite } from '../network-store';
import { activeEndpoints, admitNetwork, leasable, networkNotFound, nextAddress, staleRemoving, withState, without, type OverlayTable } from './overlay-rules';
import type { CreateOverlayInput, LeaseOwner, OverlayEndpoint, OverlayNetworkRecord, OverlayStore } from './overlay-types';
import { ViewedOverlayStore } from './overlay-view';

/**
 * OverlayStore of a node that belongs to no cluster: the same rules over files in `dir`
 * (`networks.json`, `lease-<netId>-<ip as integer>.json`, `ep-<netId>-<endpointId>.json`),
 * each written to a temp file and renamed (one file per lease and endpoint: a write costs the
 * same with 1,000 of them). One process owns the directory, so one in-process lock makes
 * every read-check-write atomic.
 */
export class FileOverlayStore extends ViewedOverlayStore implements OverlayStore {
  private readonly lock = new KeyedLock();

  constructor(private readonly dir: string) {
    super();
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.view.setTable((await this.read<OverlayTable>('networks.json')) ?? {});
    for (const f of await readdir(this.dir)) {
      if (f.endsWith('.tmp')) await rm(this.path(f), { force: true });
      const m = /^(lease|ep)-([^-.]+)-([^-.]+)\.json$/.exec(f);
      if (!m) continue;
      if (m[1] === 'lease') {
        const owner = await this.read<LeaseOwner>(f);
        if (owner) this.view.setLease(m[2], Number(m[3]), owner);
      } else {
        const ep = await this.read<OverlayEndpoint>(f);
        if (ep) this.view.setEndpoint(m[2], m[3], ep);
      }
    }
  }

  close(): void {
    // nothing open between calls
  }

  createNetwork(input: CreateOverlayInput): Promise<OverlayNetworkRecord> {
    return this.locked(async () => {
      const t = this.view.table();
      // no other node: no foreign subnets
      const made = admitNetwork(t, input, []);
      await this.writeTable({ ...t, [made.id]: made });
      return made;
    });
  }

  removeNetwork(id: string): Promise<void> {
    return this.locked(async () => {
      const n = this.view.network(id);
      if (!n) throw networkNotFound(id);
      if (!(await this.settle(n))) throw activeEndpoints(n);
    });
  }

  recoverRemoving(staleMs: number): Promise<{ reverted: string[]; removed: string[] }> {
    return this.locked(async () => {
      const out = { reverted: [] as string[], removed: [] as string[] };
      const now = Date.now();
      for (const n of this.view.networks()) if (staleRemoving(n, staleMs, now)) ((await this.settle(n)) ? out.removed : out.reverted).push(n.id);
      return out;
    });
  }

  /**
   * Under the lock, which no lease passes: deletes the network when no lease is held on it (true),
   * else leaves it, or puts it back, 'ready'. This store never writes a mark, as the lock makes a
   * remove atomic; a 'removing' one on disk is an older writer's, left by a crash.
   */
  private async settle(n: OverlayNetworkRecord): Promise<boolean> {
    const t = this.view.table();
    if ([...this.view.held(n.id)].length) {
      if (n.state === 'removing') await this.writeTable(withState(t, n.id, 'ready'));
      return false;
    }
    await this.writeTable(without(t, n.id));
    for (const ep of this.view.endpoints(n.id)) {
      await rm(this.path(epFile(n.id, ep.endpointId)), { force: true });
      this.view.setEndpoint(n.id, ep.endpointId, undefined);
    }
    return true;
  }

  lease(networkId: string, requested: string, owner: LeaseOwner): Promise<{ ip: string; prefix: number; gateway: string }> {
    return this.locked(async () => {
      const n = leasable(this.view.network(networkId), networkId);
      const a = nextAddress(n, this.view.held(networkId), requested);
      await atomicWrite(this.path(leaseFile(networkId, a.n)), owner);
      this.view.setLease(networkId, a.n, owner);
      return { ip: a.ip, prefix: a.prefix, gateway: a.gateway };
    });
  }

  release(networkId: string, ip: string, endpointId: string): Promise<void> {
    return this.locked(async () => {
      const n = parseIp(ip);
      if (n === undefined || this.view.holder(networkId, n)?.endpointId !== endpointId) return;
      await rm(this.path(leaseFile(networkId, n)), { force: true });
      this.view.setLease(networkId, n, null);
    });
  }

  publish(ep: OverlayEndpoint): Promise<void> {
    return this.locked(async () => {
      await atomicWrite(this.path(epFile(ep.networkId, ep.endpointId)), ep);
      this.view.setEndpoint(ep.networkId, ep.endpointId, ep);
    });
  }

  withdraw(networkId: string, endpointId: string): Promise<void> {
    return this.locked(async () => {
      await rm(this.path(epFile(networkId, endpointId)), { force: true });
      this.view.setEndpoint(networkId, endpointId, undefined);
    });
  }

  async publishLocalSubnets(): Promise<void> {
    // no other node reads them: a create checks this node's own through CreateOverlayInput.localSubnets
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('overlay', fn);
  }

  private async writeTable(t: OverlayTable): Promise<void> {
    await atomicWrite(this.path('networks.json'), t);
    this.view.setTable(t);
  }

  private path(f: string): string {
    return join(this.dir, f);
  }

  private async read<T>(f: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.path(f), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

const leaseFile = (netId: string, ip: number): string => `lease-${netId}-${ip}.json`;
const epFile = (netId: string, epId: string): string => `ep-${netId}-${epId}.json`;
