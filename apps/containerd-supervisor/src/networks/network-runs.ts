import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { supervisorV1 } from '@drydock/proto';
import { FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnavailableError } from '@drydock/errors';
import { CrashPoints } from '@drydock/runtime';
import { KeyedLock } from '../containers/keyed-lock';
import type { ContainerLifecycleHook, HookContainer, HookRun, ReleaseReason, RunSpecPatch } from '../containers/lifecycle-hooks';
import { linkName, parseLink } from '../containers/links';
import type { ContainerSpecRecord } from '../containers/record';
import { macForIp, parseIp } from './cidr';
import type { CniRunner, PluginConf } from './cni';
import type { NetworkCrashPoints } from './crash-points';
import { buildHosts, buildResolvConf } from './host-files';
import { linkEnv } from './link-env';
import type { NetworkDns } from './network-dns';
import type { NetworkManager } from './network-manager';
import type { ContainerNetRecord, EndpointRecord, NetworkRecord, PortRecord } from './network-record';
import { ephemeralRange, wantedPorts, type WantedPort } from './port-bindings';
import type { PortHolder } from './port-holder';
import { OVERLAY_MTU } from './overlay/vxlan';
import type { OverlayEndpoint } from './overlay/overlay-types';

/** A container as the network area sees it (pid 0 when not running). */
export interface NetContainer {
  id: string;
  name: string;
  spec: ContainerSpecRecord;
  pid: number;
  /** In its restart policy's back-off (dockerd counts it as running, and refuses to join it). */
  restarting?: boolean;
}

export interface NetworkRunsOptions {
  /** The host files bind-mounted into the container (written at create, rewritten at prepare). */
  hostFiles: (containerId: string) => { hostname: string; hosts: string; resolvConf: string };
  /** The host's resolv.conf (dockerd reads /etc/resolv.conf). */
  hostResolvConf: string;
  /** Containers by id, prefix or name (NotFoundError "No such container: x"). */
  findContainer: (ref: string) => NetContainer;
  /** The embedded DNS of user networks, told of every endpoint change. */
  dns?: NetworkDns;
  /** Keeps published host ports bound, as docker-proxy does for dockerd. */
  ports: PortHolder;
  /** Test hook: where an endpoint or a start may be made to crash (none armed on a node). */
  crash?: NetworkCrashPoints;
}

type Mode = { kind: 'host' | 'none' | 'container'; target?: string } | { kind: 'network'; ref: string };

function modeOf(spec: ContainerSpecRecord): Mode {
  const m = spec.hostConfig.networkMode ?? '';
  if (m === 'host' || m === 'none') return { kind: m };
  if (m.startsWith('container:')) return { kind: 'container', target: m.slice(10) };
  return { kind: 'network', ref: m === '' || m === 'default' ? 'bridge' : m };
}

const short = (id: string) => id.slice(0, 12);
/** runconfig/errors.go (validation errors: 400). */
const ERR_SHARED_NETWORK = 'container sharing network namespace with another container or host cannot be connected to any other network';
const ERR_HOST_NETWORK = 'container cannot be disconnected from host network or connected to host network';
const ERR_IP_ON_PREDEFINED = 'user specified IP address is supported on user defined networks only';
const cniName = (netId: string) => `drydock-${short(netId)}`;

/**
 * Container endpoints: the lifecycle hook (an address, veth and port rules for each
 * run, given back when it ends), connect/disconnect, and the views inspect shows.
 * Each run's endpoints and leases are written in the container's record before the
 * CNI ADD that makes them, so a boot after a crash knows what to take down.
 */
export class NetworkRuns implements ContainerLifecycleHook {
  readonly name = 'networks';
  private readonly lock = new KeyedLock();
  private readonly crash: NetworkCrashPoints;

  constructor(private readonly mgr: NetworkManager, private readonly cni: CniRunner, private readonly opts: NetworkRunsOptions) {
    this.crash = opts.crash ?? new CrashPoints();
  }

  /**
   * Adopts the runs that go on and gives back what the others hold (called once the
   * containers are loaded, after NetworkManager.init). `taskPid` is the init pid of a
   * container's task (0 without one), undefined for a container that does not exist.
   * A run whose pid is not its container's task ended, or never started, while the
   * supervisor was away: its endpoints, addresses and port rules are released (its
   * veths went with its namespace). A run that goes on keeps its ready endpoints; one
   * a crash left 'adding' (a connect cut short) is torn down in the live namespace.
   */
  async init(taskPid: (containerId: string) => number | undefined): Promise<void> {
    for (const rec of [...this.mgr.containers.values()]) {
      await this.lock.run(rec.containerId, () => this.adopt(rec, taskPid(rec.containerId))).catch((err) => this.mgr.log.warn({ err, containerId: rec.containerId }, 'endpoints not adopted'));
    }
    // port rules of a run whose record is gone (a crash between the CNI ADD and the record's write)
    const names = new Map([...this.mgr.networks.values()].map((n) => [cniName(n.id), n]));
    for (const o of await this.mgr.host.portmapOwners(new Set(names.keys()))) {
      const n = names.get(o.netName)!;
      const owned = this.mgr.containers.get(o.containerId)?.run?.endpoints.some((e) => e.networkId === n.id && e.ports.length);
      if (owned) continue;
      this.mgr.log.warn({ containerId: o.containerId, networkId: n.id }, 'removing stray port rules');
      await this.cni.del(o.netName, [{ type: 'portmap', snat: true, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [] } }], { containerId: o.containerId, netns: '', ifname: 'eth0' }).catch((err) => this.mgr.log.warn({ err }, 'stray port rules not removed'));
    }
    // the ports of adopted runs, bound again (a host process could have taken one while we were down)
    for (const rec of this.mgr.containers.values()) {
      for (const p of rec.run?.endpoints.flatMap((e) => e.ports) ?? []) {
        if (!(await this.opts.ports.hold(p))) this.mgr.log.warn({ containerId: rec.containerId, port: p }, 'a published port was bound by another process while the supervisor was down');
      }
    }
  }

  private async adopt(rec: ContainerNetRecord, pid: number | undefined): Promise<void> {
    if (this.mgr.containers.get(rec.containerId) !== rec) return; // released meanwhile
    if (pid === undefined) {
      // the container is gone (a crash between its removal and its record's)
      this.mgr.log.warn({ containerId: rec.containerId }, 'releasing the endpoints of a removed container');
      await this.releaseRun(rec);
      await this.mgr.store.deleteContainer(rec.containerId);
      this.mgr.containers.delete(rec.containerId);
      return;
    }
    const run = rec.run;
    if (!run) return;
    if (pid === 0 || pid !== run.pid) {
      this.mgr.log.warn({ containerId: rec.containerId, pid: run.pid }, 'releasing the endpoints of a run that ended while the supervisor was away');
      await this.releaseRun(rec);
      return;
    }
    const stale = run.endpoints.filter((e) => e.state === 'adding');
    if (!stale.length) return;
    for (const ep of stale) {
      this.mgr.log.warn({ containerId: rec.containerId, networkId: ep.networkId }, 'removing an endpoint a crash left half-made');
      await this.teardown(rec, ep, `/proc/${pid}/ns/net`).catch((err) => this.mgr.log.warn({ err, containerId: rec.containerId }, 'stale endpoint teardown failed'));
    }
    run.endpoints = run.endpoints.filter((e) => e.state !== 'adding');
    await this.mgr.store.putContainer(rec);
  }

  async validate(c: HookContainer): Promise<void> {
    const hc = c.spec.hostConfig;
    const mode = modeOf(c.spec);
    // as dockerd, the network and a static address are checked when the container starts
    if (mode.kind === 'container') return;
    wantedPorts(hc, c.spec.config.exposedPorts ?? []);
    this.extraHosts(hc.extraHosts ?? []);
    // dockerd's registerLinks (at create): the linked containers must exist; on user networks links are aliases
    if (mode.kind !== 'network' || !this.userDefined(mode.ref)) for (const l of hc.links ?? []) this.linkTarget(parseLink(l).name, 'could not get container for');
  }

  /**
   * A link's container, or the one whose network it shares (registerLinks follows
   * container:<x> modes); a missing one is InvalidArgument, as dockerd's.
   */
  private linkTarget(name: string, text: string): NetContainer {
    let t: NetContainer;
    let ref = name;
    for (let hops = 0; ; hops++) {
      try {
        t = this.opts.findContainer(ref);
      } catch (err) {
        throw new InvalidArgumentError(`${hops ? 'Could not get container for' : text} ${ref}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      const m = modeOf(t.spec);
      if (m.kind !== 'container' || hops > 16) break;
      ref = m.target!;
    }
    if (modeOf(t.spec).kind === 'host') throw new InvalidArgumentError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    return t;
  }

  /**
   * dockerd's getNetworkedContainer (at start): the running container whose namespace
   * a `container:<ref>` run joins, with its texts (ref as the mode holds it: the id).
   */
  private joinTarget(id: string, ref: string): NetContainer {
    const t = this.opts.findContainer(ref);
    if (t.id === id) throw new InvalidArgumentError('cannot join own network');
    if (t.restarting) throw new FailedPreconditionError(`Container ${ref} is restarting, wait until the container is running`);
    if (!t.pid) throw new FailedPreconditionError(`cannot join network of a non running container: ${ref}`);
    return t;
  }

  async runSpec(c: HookContainer): Promise<RunSpecPatch | undefined> {
    const mode = modeOf(c.spec);
    if (mode.kind === 'container') {
      const t = this.joinTarget(c.id, mode.target!);
      // the target's hosts, resolv.conf and name, as dockerd's initializeNetworkingPaths
      return { netnsPath: `/proc/${t.pid}/ns/net`, files: this.opts.hostFiles(t.id), hostname: t.spec.config.hostname ?? short(t.id), domainname: t.spec.config.domainname ?? '' };
    }
    if (mode.kind !== 'network' || !(c.spec.hostConfig.links ?? []).length) return undefined;
    // dockerd's setupLinkedContainers: only a container on the default bridge gets link variables
    const bridge = this.defaultBridge();
    if (!bridge || !this.recordOf(c.id, c.spec).attachments.some((a) => a.networkId === bridge.id)) return undefined;
    const env: string[] = [];
    for (const l of this.links(c)) env.push(...linkEnv(l.linkName, l.ep.ip, l.target.spec.config.env ?? [], l.target.spec.config.exposedPorts ?? []));
    return { env };
  }

  /** The container's links with their running targets' default-bridge endpoints (dockerd's texts when one is not). */
  private links(c: { name: string; spec: ContainerSpecRecord }): { linkName: string; alias: string; target: NetContainer; ep: EndpointRecord }[] {
    const bridge = this.defaultBridge();
    return (c.spec.hostConfig.links ?? []).flatMap((l) => {
      const { name, alias } = parseLink(l);
      // a linked container removed since is no longer linked (dockerd drops it from its link graph)
      if (!this.exists(name)) return [];
      const target = this.linkTarget(name, 'could not get container for');
      const full = linkName(c.name, alias);
      if (!target.pid) throw new InternalError(`Cannot link to a non running container: /${target.name} AS ${full}`);
      const ep = this.mgr.containers.get(target.id)?.run?.endpoints.find((e) => e.networkId === bridge?.id);
      if (!ep) throw new InternalError(`container ${target.id} not attached to default bridge network`);
      return [{ linkName: full, alias, target, ep }];
    });
  }

  /** runconfig's IsUserDefined, on a network that may not exist yet (it is looked up at start). */
  private userDefined(ref: string): boolean {
    try {
      return !this.mgr.resolve(ref).builtin;
    } catch {
      return !['bridge', 'default', 'host', 'none'].includes(ref);
    }
  }

  private exists(ref: string): boolean {
    try {
      this.opts.findContainer(ref);
      return true;
    } catch {
      return false;
    }
  }

  private checkStaticIp(n: NetworkRecord, ip: string): void {
    if (n.builtin) throw new InvalidArgumentError(ERR_IP_ON_PREDEFINED);
    if (n.pools[0]?.auto) throw new InvalidArgumentError('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (parseIp(ip) === undefined) throw new InvalidArgumentError(`invalid IPv4 address: ${ip}`);
  }

  private endpointConfig(spec: ContainerSpecRecord, n: NetworkRecord): supervisorV1.EndpointConfig {
    const e = spec.endpoints ?? {};
    const mode = spec.hostConfig.networkMode ?? '';
    return e[n.name] ?? e[n.id] ?? e[mode] ?? Object.entries(e).find(([k]) => k.length >= 12 && n.id.startsWith(k))?.[1] ?? {};
  }

  private extraHosts(list: string[]): { ip: string; names: string }[] {
    return list.map((h) => {
      const i = h.indexOf(':');
      const name = h.slice(0, i);
      let ip = h.slice(i + 1);
      if (i <= 0 || (ip !== 'host-gateway' && parseIp(ip) === undefined && !/^[0-9a-fA-F:]+$/.test(ip))) throw new InvalidArgumentError(`invalid IP address in add-host: "${i <= 0 ? h : ip}"`);
      if (ip === 'host-gateway') ip = this.defaultBridge()?.pools[0]?.gateway ?? '';
      return { ip, names: name };
    });
  }

  private defaultBridge(): NetworkRecord | undefined {
    return [...this.mgr.networks.values()].find((n) => n.builtin && n.name === 'bridge');
  }

  /** The container's record, made from its create settings the first time it is needed. */
  private recordOf(id: string, spec: ContainerSpecRecord): ContainerNetRecord {
    let rec = this.mgr.containers.get(id);
    if (!rec) {
      const mode = modeOf(spec);
      const attachments = [];
      if (mode.kind === 'network') {
        const n = this.mgr.resolve(mode.ref);
        attachments.push({ networkId: n.id, config: this.endpointConfig(spec, n) });
      }
      rec = { containerId: id, attachments };
      this.mgr.containers.set(id, rec);
    }
    return rec;
  }

  async prepare(run: HookRun): Promise<void> {
    if (modeOf(run.spec).kind !== 'network') return;
    await this.lock.run(run.id, async () => {
      const rec = this.recordOf(run.id, run.spec);
      if (rec.run) await this.releaseRun(rec);
      rec.run = { pid: run.pid, sandboxId: randomBytes(32).toString('hex'), nextIf: 0, endpoints: [] };
      try {
        for (const a of [...rec.attachments]) await this.attach(rec, a, run);
        await this.writeFiles(rec, run);
      } catch (err) {
        await this.releaseRun(rec);
        throw err;
      }
      // as dockerd, a resolver that cannot start leaves the container without names, not unstarted
      await this.opts.dns?.started(run.id, run.pid).catch((err) => this.mgr.log.warn({ err, containerId: run.id }, 'embedded DNS not started'));
      this.crash.reach('start:prepared');
      // dockerd logs `network connect` for each network a starting container joins
      this.emitFor('connect', rec.run.endpoints.map((e) => e.networkId), run.id);
    });
  }

  private emitFor(action: 'connect' | 'disconnect', networkIds: string[], containerId: string): void {
    for (const id of networkIds) {
      const n = this.mgr.networks.get(id);
      if (n) this.mgr.onEvent(action, n, containerId);
    }
  }

  async renamed(c: HookContainer): Promise<void> {
    await this.opts.dns?.renamed(c.id);
    const o = this.mgr.overlay;
    for (const ep of this.mgr.containers.get(c.id)?.run?.endpoints ?? []) {
      if (o?.ready && ep.state === 'ready' && this.mgr.networks.get(ep.networkId)?.driver === 'overlay') await o.store.publish(this.overlayEndpoint(c.id, ep)).catch((err) => this.mgr.log.warn({ err, containerId: c.id }, 'renamed overlay endpoint not published'));
    }
  }

  async release(c: HookContainer, reason: ReleaseReason): Promise<void> {
    await this.lock.run(c.id, async () => {
      const rec = this.mgr.containers.get(c.id);
      if (!rec) return;
      const nets = rec.run?.endpoints.map((e) => e.networkId) ?? [];
      await this.releaseRun(rec);
      await this.opts.dns?.released(c.id, nets).catch((err) => this.mgr.log.warn({ err, containerId: c.id }, 'embedded DNS not released'));
      // and `network disconnect` for each one a stopped run leaves
      this.emitFor('disconnect', nets, c.id);
      if (reason === 'remove') {
        await this.mgr.store.deleteContainer(c.id);
        this.mgr.containers.delete(c.id);
      }
    });
  }

  private async releaseRun(rec: ContainerNetRecord): Promise<void> {
    if (!rec.run) return;
    // the run's namespace is gone: its veths went with it; port rules remain to take down
    for (const ep of [...rec.run.endpoints].reverse()) {
      await this.teardown(rec, ep, '').catch((err) => this.mgr.log.warn({ err, containerId: rec.containerId, networkId: ep.networkId }, 'endpoint teardown failed'));
    }
    rec.run = undefined;
    await this.mgr.store.putContainer(rec);
  }

  private chain(n: NetworkRecord, ep: EndpointRecord): PluginConf[] {
    const plugins: PluginConf[] = [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        isDefaultGateway: ep.defaultRoute,
        ipMasq: false,
        hairpinMode: true,
        ...(n.driver === 'overlay' ? { mtu: OVERLAY_MTU } : {}),
        runtimeConfig: { mac: ep.mac },
        ipam: { type: 'static', addresses: [{ address: `${ep.ip}/${ep.prefix}`, gateway: ep.gateway }] },
      },
    ];
    if (ep.ports.length) {
      plugins.push({
        type: 'portmap',
        snat: true,
        capabilities: { portMappings: true },
        runtimeConfig: { portMappings: ep.ports.map((p) => ({ hostPort: p.hostPort, containerPort: Number(p.containerPort.split('/')[0]), protocol: p.proto, hostIP: p.hostIp })) },
      });
    }
    return plugins;
  }

  /**
   * Allocates the endpoint (lease and ports written first), then runs the CNI ADD.
   * `join` (connect): the attachment is written with the ready endpoint, in one write,
   * so a crash before it leaves the container unconnected rather than half connected.
   */
  private async attach(rec: ContainerNetRecord, a: ContainerNetRecord['attachments'][number], c: { id: string; name: string; spec: ContainerSpecRecord; pid: number }, join = false): Promise<EndpointRecord> {
    const run = rec.run!;
    const n = this.mgr.networks.get(a.networkId);
    if (!n || n.state !== 'ready') throw new NotFoundError(`network ${a.networkId} not found`);
    if (n.driver !== 'bridge' && n.driver !== 'overlay') throw new PermissionDeniedError(`container cannot be connected to the ${n.name} network`);
    if (a.config.ipv4Address) this.checkStaticIp(n, a.config.ipv4Address);
    const endpointId = randomBytes(32).toString('hex');
    const overlay = n.driver === 'overlay' ? this.mgr.overlay : undefined;
    if (n.driver === 'overlay' && !overlay?.ready) throw new UnavailableError(`network ${n.name} spans the cluster, whose store is not reachable yet`);
    const ep = await this.mgr.lock.run('networks', async () => {
      // an overlay's addresses are the cluster's: taken there (with this endpoint as owner) before the record
      const addr = overlay ? await overlay.lease(n.id, a.config.ipv4Address ?? '', { containerId: c.id, endpointId }) : this.mgr.allocateAddress(n, a.config.ipv4Address ?? '');
      const defaultRoute = !n.internal && !run.endpoints.some((e) => e.defaultRoute);
      const ports = defaultRoute ? await this.allocatePorts(c, endpointId) : [];
      const aliases = [...(a.config.aliases ?? [])];
      if (!n.builtin && !aliases.includes(short(c.id))) aliases.push(short(c.id));
      const mac = (run.endpoints.length === 0 && c.spec.config.macAddress) || a.config.macAddress || macForIp(parseIp(addr.ip)!);
      const e: EndpointRecord = { networkId: n.id, endpointId, ifname: `eth${run.nextIf++}`, ...addr, mac, aliases, ports, defaultRoute, state: 'adding' };
      run.endpoints.push(e);
      try {
        await this.mgr.store.putContainer(rec);
      } catch (err) {
        run.endpoints = run.endpoints.filter((x) => x !== e);
        if (overlay) await overlay.store.release(n.id, e.ip, endpointId).catch(() => undefined);
        throw err;
      }
      return e;
    });
    this.crash.reach('endpoint:leased');
    try {
      ep.cniResult = await this.cni.add(cniName(n.id), this.chain(n, ep), { containerId: c.id, netns: `/proc/${c.pid}/ns/net`, ifname: ep.ifname });
      // every node programs its peer entries and DNS names from this
      if (overlay) await overlay.store.publish(this.overlayEndpoint(c.id, ep));
    } catch (err) {
      await this.teardown(rec, ep, `/proc/${c.pid}/ns/net`).catch(() => undefined);
      run.endpoints = run.endpoints.filter((e) => e !== ep);
      await this.mgr.store.putContainer(rec);
      throw err;
    }
    this.crash.reach('endpoint:added');
    ep.state = 'ready';
    if (join) rec.attachments.push(a);
    await this.mgr.store.putContainer(rec);
    return ep;
  }

  /** The endpoint as the other nodes see it. */
  private overlayEndpoint(containerId: string, ep: EndpointRecord): OverlayEndpoint {
    const o = this.mgr.overlay!;
    let name = short(containerId);
    let hostname: string | undefined;
    try {
      const c = this.opts.findContainer(containerId);
      name = c.name.replace(/^\//, '');
      const h = c.spec.config.hostname;
      if (h && h !== short(containerId)) hostname = h;
    } catch {
      // removed meanwhile: its short id still names it
    }
    return { networkId: ep.networkId, endpointId: ep.endpointId, containerId, containerName: name, hostname, aliases: ep.aliases, ip: ep.ip, prefix: ep.prefix, mac: ep.mac, nodeId: o.opts.nodeId, nodeName: o.opts.nodeName, vtep: o.opts.vtep };
  }

  /**
   * Once the overlay store is reached (at boot, or later when NATS comes): the leases and
   * endpoints of this node no local endpoint holds are given back (a crash between two
   * steps), and the ready ones are published again (a rename while NATS was away).
   */
  async overlayResync(): Promise<void> {
    const o = this.mgr.overlay;
    if (!o?.ready) return;
    await this.mgr.lock.run('networks', async () => {
      const held: { networkId: string; endpointId: string; ip: string; containerId: string; ep: EndpointRecord }[] = [];
      for (const rec of this.mgr.containers.values()) {
        for (const ep of rec.run?.endpoints ?? []) if (this.mgr.networks.get(ep.networkId)?.driver === 'overlay') held.push({ networkId: ep.networkId, endpointId: ep.endpointId, ip: ep.ip, containerId: rec.containerId, ep });
      }
      await o.sweep(held);
      for (const h of held) if (h.ep.state === 'ready') await o.store.publish(this.overlayEndpoint(h.containerId, h.ep));
    });
  }

  /** CNI DEL of an endpoint; without a namespace only the plugins that leave host state (portmap). */
  private async teardown(rec: ContainerNetRecord, ep: EndpointRecord, netns: string): Promise<void> {
    const n = this.mgr.networks.get(ep.networkId);
    if (!n) return;
    const overlay = n.driver === 'overlay' ? this.mgr.overlay : undefined;
    if (overlay) {
      // the other nodes drop it first; a store that cannot be reached now is swept by a resync later
      try {
        await overlay.store.withdraw(n.id, ep.endpointId);
        await overlay.store.release(n.id, ep.ip, ep.endpointId);
      } catch (err) {
        this.mgr.log.warn({ err, networkId: n.id }, 'overlay endpoint not given back; retrying later');
        setTimeout(() => void this.overlayResync().catch((e) => this.mgr.log.warn({ err: e }, 'overlay resync failed')), 5000).unref();
      }
    }
    const chain = this.chain(n, ep);
    const plugins = netns ? chain : chain.filter((p) => p.type !== 'bridge');
    if (plugins.length) await this.cni.del(cniName(n.id), plugins, { containerId: rec.containerId, netns, ifname: ep.ifname }, ep.cniResult);
    for (const p of ep.ports) this.opts.ports.release(p);
  }

  /** Host ports for the container's bindings: taken ones fail with dockerd's texts, nothing is kept. */
  private async allocatePorts(c: { name: string; spec: ContainerSpecRecord }, endpointId: string): Promise<PortRecord[]> {
    const wanted = wantedPorts(c.spec.hostConfig, c.spec.config.exposedPorts ?? []);
    if (!wanted.length) return [];
    const used: PortRecord[] = [];
    for (const r of this.mgr.containers.values()) for (const e of r.run?.endpoints ?? []) used.push(...e.ports);
    // ports DNAT'd by rules no endpoint of ours holds (another engine's, or a stray one) are taken too
    const dnat = await this.mgr.host.dnatPorts();
    const ours = new Set(used.map((u) => `${u.proto}:${u.hostPort}`));
    const clash = (p: WantedPort, port: number) =>
      used.some((u) => u.proto === p.proto && u.hostPort === port && (!u.hostIp || !p.hostIp || u.hostIp === p.hostIp)) || (dnat.has(`${p.proto}:${port}`) && !ours.has(`${p.proto}:${port}`));
    const fail = (text: string) => new InternalError(`driver failed programming external connectivity on endpoint ${c.name} (${endpointId}): ${text}`);
    const out: PortRecord[] = [];
    const eph = await ephemeralRange();
    try {
      for (const w of wanted) {
        const [lo, hi] = w.range[0] === 0 ? eph : w.range;
        let chosen = 0;
        for (let port = lo; port <= hi && !chosen; port++) {
          if (clash(w, port)) continue;
          if (await this.opts.ports.hold({ proto: w.proto, hostIp: w.hostIp, hostPort: port })) chosen = port;
          else if (lo === hi) throw fail(`Error starting userland proxy: listen ${w.proto}4 ${w.hostIp || '0.0.0.0'}:${port}: bind: address already in use`);
        }
        if (!chosen) throw fail(`Bind for ${w.hostIp || '0.0.0.0'}:${lo === hi ? lo : `${lo}-${hi}`} failed: port is already allocated`);
        const rec: PortRecord = { containerPort: w.containerPort, proto: w.proto, hostIp: w.hostIp, hostPort: chosen };
        out.push(rec);
        used.push(rec);
      }
    } catch (err) {
      for (const p of out) this.opts.ports.release(p);
      throw err;
    }
    return out;
  }

  private async writeFiles(rec: ContainerNetRecord, c: { id: string; name: string; spec: ContainerSpecRecord }): Promise<void> {
    const cfg = c.spec.config;
    const hc = c.spec.hostConfig;
    const paths = this.opts.hostFiles(c.id);
    const first = rec.run?.endpoints[0];
    // legacy links are the default bridge's (on user networks the embedded DNS answers names)
    const onBridge = rec.attachments.some((a) => a.networkId === this.defaultBridge()?.id);
    const extra = [...this.extraHosts(hc.extraHosts ?? []), ...(onBridge ? this.linkHosts(c) : [])];
    await writeFile(paths.hosts, buildHosts({ hostname: cfg.hostname ?? short(c.id), domainname: cfg.domainname, ip: first?.ip, extra }));
    const host = await readFile(this.opts.hostResolvConf, 'utf8').catch(() => '');
    const embeddedDns = rec.attachments.some((a) => !this.mgr.networks.get(a.networkId)?.builtin);
    await writeFile(paths.resolvConf, buildResolvConf({ host, dns: hc.dns ?? [], dnsSearch: hc.dnsSearch ?? [], dnsOptions: hc.dnsOptions ?? [], embeddedDns }));
  }

  /** --link name:alias: `<ip>\t<alias> <hostname> <name>` of a running container on the default bridge. */
  private linkHosts(c: { name: string; spec: ContainerSpecRecord }): { ip: string; names: string }[] {
    return this.links(c).map(({ alias, target, ep }) => ({ ip: ep.ip, names: [...new Set([alias, target.spec.config.hostname ?? short(target.id), target.name])].join(' ') }));
  }

  /**
   * dockerd's ConnectContainerToNetwork: the container is looked up first (its 404 wins),
   * then the network; the checks of updateNetworkConfig/updateNetworkSettings in their order.
   * A stopped container only has its settings edited (connecting it twice is a no-op).
   * dockerd keeps a missing network's name in a stopped container's settings and fails at
   * start; this node refuses it here (404) so that nothing half-made is stored.
   */
  async connect(netRef: string, containerRef: string, config: supervisorV1.EndpointConfig): Promise<void> {
    const c = this.opts.findContainer(containerRef);
    const mode = modeOf(c.spec);
    if (c.pid && mode.kind === 'container') throw new InvalidArgumentError(ERR_SHARED_NETWORK);
    const n = this.mgr.resolve(netRef);
    if (n.builtin) {
      if (config.ipv4Address || config.ipv6Address) throw new InvalidArgumentError(ERR_IP_ON_PREDEFINED);
      if (config.aliases?.length) throw new InvalidArgumentError('network-scoped alias is supported only for containers in user defined networks');
    }
    if (config.ipv4Address) this.checkStaticIp(n, config.ipv4Address);
    if (n.driver === 'host' && mode.kind !== 'host') throw new InvalidArgumentError(ERR_HOST_NETWORK);
    let changed = true;
    await this.lock.run(c.id, async () => {
      const rec = this.recordOf(c.id, c.spec);
      const running = !!(c.pid && rec.run);
      const current = mode.kind === 'host' || mode.kind === 'none' ? [...this.mgr.networks.values()].filter((x) => x.builtin && x.name === mode.kind) : rec.attachments.map((a) => this.mgr.networks.get(a.networkId)).filter((x): x is NetworkRecord => !!x);
      if (current.some((x) => x.id === n.id)) {
        if (c.pid) throw new PermissionDeniedError(`endpoint with name ${c.name} already exists in network ${n.name}`);
        changed = false;
        return;
      }
      if (mode.kind === 'container' || current.some((x) => x.driver === 'host') || n.driver === 'host') throw new InvalidArgumentError(ERR_SHARED_NETWORK);
      if (current.length && (current.some((x) => x.driver === 'null') || n.driver === 'null')) throw new InvalidArgumentError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      if (n.driver !== 'bridge' && n.driver !== 'overlay') throw new InvalidArgumentError(ERR_SHARED_NETWORK);
      const att = { networkId: n.id, config };
      if (running) {
        // attach undoes its endpoint on failure; the attachment is only written with it
        await this.attach(rec, att, c, true);
      } else {
        // not running: only its settings change, as dockerd does
        rec.attachments.push(att);
        await this.mgr.store.putContainer(rec);
      }
      if (running && this.opts.dns) {
        // as dockerd's rebuildDNS: a run that joins its first user network gets 127.0.0.11 at once
        await this.writeFiles(rec, c).catch((err) => this.mgr.log.warn({ err, containerId: c.id }, 'host files not rewritten'));
        await this.opts.dns.changed(c.id, n.id).catch((err) => this.mgr.log.warn({ err, containerId: c.id }, 'embedded DNS not updated'));
      }
    });
    if (changed) this.mgr.onEvent('connect', n, c.id);
  }

  /**
   * dockerd's DisconnectFromNetwork: the container first; a stopped one only has its
   * settings edited, with the network as named when it cannot be resolved ("... not
   * connected to the network X", 500); a running one needs the network (404 otherwise).
   */
  async disconnect(netRef: string, containerRef: string): Promise<void> {
    const c = this.opts.findContainer(containerRef);
    let n: NetworkRecord | undefined;
    let lookupErr: unknown;
    try {
      n = this.mgr.resolve(netRef);
    } catch (err) {
      lookupErr = err;
    }
    await this.lock.run(c.id, async () => {
      const rec = this.recordOf(c.id, c.spec);
      const running = !!c.pid;
      if (!running) {
        if (!n || !rec.attachments.some((a) => a.networkId === n!.id)) throw new InternalError(`container ${c.id} is not connected to the network ${n?.name ?? netRef}`);
      } else {
        if (!n) throw lookupErr;
        if (modeOf(c.spec).kind === 'host' && n.driver === 'host') throw new InvalidArgumentError(ERR_HOST_NETWORK);
        if (!rec.attachments.some((a) => a.networkId === n!.id)) throw new InternalError(`container ${c.id} is not connected to network ${n.name}`);
      }
      const net = n!;
      const ep = rec.run?.endpoints.find((e) => e.networkId === net.id);
      if (ep && rec.run) {
        await this.teardown(rec, ep, c.pid ? `/proc/${c.pid}/ns/net` : '');
        rec.run.endpoints = rec.run.endpoints.filter((e) => e !== ep);
      }
      rec.attachments = rec.attachments.filter((a) => a.networkId !== net.id);
      await this.mgr.store.putContainer(rec);
      if (ep) await this.opts.dns?.changed(c.id, net.id).catch((err) => this.mgr.log.warn({ err, containerId: c.id }, 'embedded DNS not updated'));
    });
    this.mgr.onEvent('disconnect', n!, c.id);
  }

  /** inspect's NetworkSettings (addresses only while the container runs). */
  settings(id: string, spec: ContainerSpecRecord, running: boolean): supervisorV1.NetworkSettings {
    const out: supervisorV1.NetworkSettings = { sandboxKey: '', sandboxId: '', bridge: '', endpointId: '', gateway: '', ipAddress: '', ipPrefixLen: 0, macAddress: '', ports: {}, networks: {}, hairpinMode: false };
    const mode = modeOf(spec);
    // a joined namespace is the target's: dockerd shows no networks and no sandbox of its own
    if (mode.kind === 'container') return out;
    if (mode.kind === 'host' || mode.kind === 'none') {
      const n = [...this.mgr.networks.values()].find((x) => x.builtin && x.name === mode.kind);
      out.networks = { [mode.kind]: { config: {}, networkId: n?.id ?? '', endpointId: '', gateway: '', ipAddress: '', ipPrefixLen: 0, macAddress: '', aliases: [] } };
      return out;
    }
    let rec: ContainerNetRecord | undefined = this.mgr.containers.get(id);
    if (!rec) {
      try {
        rec = this.recordOf(id, spec);
        this.mgr.containers.delete(id);
      } catch {
        return out;
      }
    }
    const run = running ? rec.run : undefined;
    if (run) {
      out.sandboxKey = `/proc/${run.pid}/ns/net`;
      out.sandboxId = run.sandboxId;
    }
    for (const a of rec.attachments) {
      const n = this.mgr.networks.get(a.networkId);
      if (!n) continue;
      const ep = run?.endpoints.find((e) => e.networkId === n.id);
      out.networks![n.name] = {
        config: a.config,
        networkId: n.id,
        endpointId: ep?.endpointId ?? '',
        gateway: ep?.gateway ?? '',
        ipAddress: ep?.ip ?? '',
        ipPrefixLen: ep?.prefix ?? 0,
        macAddress: ep?.mac ?? '',
        aliases: ep ? ep.aliases : a.config.aliases ?? [],
      };
      if (ep && n.builtin && n.name === 'bridge') Object.assign(out, { endpointId: ep.endpointId, gateway: ep.gateway, ipAddress: ep.ip, ipPrefixLen: ep.prefix, macAddress: ep.mac });
    }
    if (run) {
      const keys = new Set([...(spec.config.exposedPorts ?? []), ...Object.keys(spec.hostConfig.portBindings ?? {})]);
      const ports = run.endpoints.flatMap((e) => e.ports);
      for (const p of ports) keys.add(p.containerPort);
      for (const k of [...keys].sort()) {
        const key = k.includes('/') ? k : `${k}/tcp`;
        // dockerd lists a 0.0.0.0 binding's IPv6 twin too
        const mappings = ports.filter((p) => p.containerPort === key).flatMap((p) => (p.hostIp ? [{ hostIp: p.hostIp, hostPort: p.hostPort }] : [{ hostIp: '0.0.0.0', hostPort: p.hostPort }, { hostIp: '::', hostPort: p.hostPort }]));
        out.ports![key] = { mappings };
      }
    }
    return out;
  }

  /** An overlay's nodes with endpoints (dockerd's Peers). */
  peers(n: NetworkRecord): supervisorV1.NetworkPeer[] {
    if (n.driver !== 'overlay' || !this.mgr.overlay) return [];
    const byNode = new Map<string, supervisorV1.NetworkPeer>();
    for (const e of this.mgr.overlay.liveEndpoints(n.id)) byNode.set(e.nodeId, { name: e.nodeName, ip: e.vtep });
    return [...byNode.values()].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
  }

  /** Network inspect's Containers map (an overlay's: every node's, each with its node). */
  endpointsView(n: NetworkRecord): Record<string, supervisorV1.NetworkEndpoint> {
    const out: Record<string, supervisorV1.NetworkEndpoint> = {};
    const o = this.mgr.overlay;
    if (n.driver === 'overlay' && o?.ready) {
      for (const e of o.liveEndpoints(n.id)) {
        out[e.containerId] = { name: e.containerName, endpointId: e.endpointId, macAddress: e.mac, ipv4Address: `${e.ip}/${e.prefix}`, ipv6Address: '', aliases: [e.containerName, ...e.aliases], node: e.nodeName };
      }
      return out;
    }
    for (const { containerId, ep } of this.mgr.endpointsOn(n.id)) {
      let name = '';
      try {
        name = this.opts.findContainer(containerId).name;
      } catch {
        continue;
      }
      out[containerId] = { name, endpointId: ep.endpointId, macAddress: ep.mac, ipv4Address: `${ep.ip}/${ep.prefix}`, ipv6Address: '', aliases: [name, ...ep.aliases] };
    }
    return out;
  }
}
