import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedLock } from '../containers/keyed-lock';
import { dnsRecordsFor, type DnsEndpoint, type DnsLauncher } from './dns';
import type { NetworkManager } from './network-manager';
import type { ContainerNetRecord } from './network-record';
import type { NetContainer } from './network-runs';

const short = (id: string) => id.slice(0, 12);

/**
 * The embedded DNS of user-defined networks wired to the endpoints: a running
 * container with an endpoint on a user network has a drydock-dns in its netns
 * (started at prepare, stopped at release), fed every endpoint of the user
 * networks it is on. Whenever such a network gains or loses an endpoint the
 * records of every running container on it are rewritten. Helpers outlive the
 * supervisor: a restart adopts them and stops those whose run is gone.
 */
export class NetworkDns {
  /** One records write per container at a time, each computed inside the lock from the current endpoints. */
  private readonly lock = new KeyedLock();

  constructor(
    private readonly mgr: NetworkManager,
    private readonly launcher: DnsLauncher,
    private readonly stateDir: string,
    private readonly findContainer: (ref: string) => NetContainer,
    /** A launcher forwarding to other servers than the host's (a container's --dns); none: --dns is not forwarded to. */
    private readonly launcherWith?: (resolvConf: string) => DnsLauncher,
  ) {}

  /** Starts the helper; a container with --dns has its unknown names forwarded there, as dockerd's resolver does. */
  private async startHelper(containerId: string, pid: number): Promise<void> {
    let launcher = this.launcher;
    const servers = this.launcherWith ? this.findContainer(containerId).spec.hostConfig.dns ?? [] : [];
    if (servers.length && this.launcherWith) {
      const file = join(this.launcher.dir(containerId), 'upstream.conf');
      await mkdir(this.launcher.dir(containerId), { recursive: true });
      await writeFile(file, servers.map((s) => `nameserver ${s}\n`).join(''));
      launcher = this.launcherWith(file);
    }
    await launcher.start(containerId, { pid });
  }

  /** The user networks the container has a running endpoint on. */
  private userNetworks(rec: ContainerNetRecord | undefined): string[] {
    return (rec?.run?.endpoints ?? []).filter((e) => e.state === 'ready' && this.mgr.networks.get(e.networkId)?.builtin === false).map((e) => e.networkId);
  }

  /** At prepare, after the endpoints are made: records, helper in the run's netns, peers told. */
  async started(containerId: string, pid: number): Promise<void> {
    const nets = this.userNetworks(this.mgr.containers.get(containerId));
    if (!nets.length) return;
    await this.writeRecords(containerId);
    await this.startHelper(containerId, pid);
    await this.refresh(nets, containerId);
  }

  /** After connect or disconnect of a running container: its helper started or stopped as needed, everyone on `netId` rewritten. */
  async changed(containerId: string, netId: string): Promise<void> {
    const rec = this.mgr.containers.get(containerId);
    if (rec?.run && this.userNetworks(rec).length) {
      await this.writeRecords(containerId);
      await this.startHelper(containerId, rec.run.pid);
    } else {
      await this.lock.run(containerId, () => this.launcher.stop(containerId));
    }
    await this.refresh([netId], containerId);
  }

  /** After docker rename: everyone on its user networks learns the new name. */
  async renamed(containerId: string): Promise<void> {
    await this.refresh(this.userNetworks(this.mgr.containers.get(containerId)), containerId);
  }

  /** After a run's endpoints are given back (exit, failed start, remove): helper stopped, peers rewritten. */
  async released(containerId: string, netIds: string[]): Promise<void> {
    await this.lock.run(containerId, () => this.launcher.stop(containerId));
    await this.refresh(netIds.filter((id) => this.mgr.networks.get(id)?.builtin === false));
  }

  /**
   * At supervisor start (after NetworkRuns.init, before the containers load): helpers
   * of runs the records still hold are kept (or started again if one died), the others
   * stopped. Exits found later by the container manager come through released().
   */
  async init(): Promise<void> {
    let ids: string[] = [];
    try {
      ids = await readdir(this.stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const running = new Map((await this.launcher.list()).map((h) => [h.containerId, h]));
    // runs with no directory too: prepared by a supervisor without DNS, or their directory lost
    const live = [...this.mgr.containers.values()].filter((r) => this.userNetworks(r).length).map((r) => r.containerId);
    for (const id of new Set([...ids, ...running.keys(), ...live])) {
      const rec = this.mgr.containers.get(id);
      const helper = running.get(id);
      try {
        if (!rec?.run || !this.userNetworks(rec).length) await this.launcher.stop(id);
        else if (!helper || helper.target.pid !== rec.run.pid) await this.started(id, rec.run.pid);
      } catch (err) {
        this.mgr.log.warn({ err, containerId: id }, 'embedded DNS not adopted');
      }
    }
    // peers may have come and gone while the supervisor was down
    const nets = new Set<string>();
    for (const rec of this.mgr.containers.values()) for (const n of this.userNetworks(rec)) nets.add(n);
    await this.refresh([...nets]);
  }

  /** Another node's endpoints on these overlay networks changed: the local containers on them learn it. */
  async remoteChanged(netIds: string[]): Promise<void> {
    await this.refresh(netIds);
  }

  /** Rewrites the records of every running container on these networks (`also` too). */
  private async refresh(netIds: string[], also?: string): Promise<void> {
    const targets = new Set<string>();
    for (const n of netIds) for (const { containerId } of this.mgr.endpointsOn(n)) targets.add(containerId);
    if (also) targets.add(also);
    for (const id of targets) {
      await this.writeRecords(id).catch((err) => this.mgr.log.warn({ err, containerId: id }, 'embedded DNS records not written'));
    }
  }

  private writeRecords(containerId: string): Promise<void> {
    return this.lock.run(containerId, async () => {
      const nets = this.userNetworks(this.mgr.containers.get(containerId));
      // a container that stopped meanwhile keeps no directory
      if (!nets.length) return;
      // overlay names come from the cluster's store: until it is reached (a restart) the helper keeps answering what it has
      if (this.mgr.overlay && !this.mgr.overlay.ready && nets.some((n) => this.mgr.networks.get(n)?.driver === 'overlay')) return;
      await this.launcher.writeRecords(containerId, dnsRecordsFor(nets.flatMap((n) => this.endpoints(n))));
    });
  }

  /** The endpoints of a network in dockerd's names (container name, aliases with the short id, hostname). */
  private endpoints(netId: string): DnsEndpoint[] {
    const n = this.mgr.networks.get(netId);
    if (!n) return [];
    const overlay = n.driver === 'overlay' ? this.mgr.overlay : undefined;
    // an overlay's names are every live node's endpoints, as published in the cluster's store
    if (overlay?.ready) {
      return overlay.liveEndpoints(netId).map((e) => ({ network: n.name, containerName: e.containerName, shortId: short(e.containerId), hostname: e.hostname, aliases: e.aliases, ipv4: e.ip }));
    }
    const out: DnsEndpoint[] = [];
    for (const { containerId, ep } of this.mgr.endpointsOn(netId)) {
      if (ep.state !== 'ready') continue;
      let c: NetContainer;
      try {
        c = this.findContainer(containerId);
      } catch {
        continue;
      }
      const hostname = c.spec.config.hostname;
      out.push({ network: n.name, containerName: c.name, shortId: short(containerId), hostname: hostname && hostname !== short(containerId) ? hostname : undefined, aliases: ep.aliases, ipv4: ep.ip });
    }
    return out;
  }
}
