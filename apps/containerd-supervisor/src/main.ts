import { existsSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { supervisorV1 } from '@drydock/proto';
import { CrashPoints, startServiceIdleCollector } from '@drydock/runtime';
import { createLogger } from '@drydock/logging';
import { loadSupervisorConfig } from './config';
import { ContainerdClient } from './containerd/containerd-client';
import { ContainerManager } from './containers/container-manager';
import { ContainerStore } from './containers/container-store';
import { TaskMonitor } from './containers/task-monitor';
import { ExecManager } from './exec/exec-manager';
import { JetStreamEventSink } from './events/event-sink';
import { connectNats } from './events/nats-connection';
import { containersService } from './grpc/containers.service';
import { execService } from './grpc/exec.service';
import { Handlers } from './grpc/handlers';
import { imagesService } from './grpc/images.service';
import { nodeService } from './grpc/node.service';
import { archivesService } from './grpc/archives.service';
import { volumesService } from './grpc/volumes.service';
import { pluginsService } from './grpc/plugins.service';
import { ArchiveManager, getfattr, VolumeCopyUp } from './archives/archive-manager';
import { ImageCommitter } from './images/commit/image-committer';
import { RootfsMounter } from './archives/rootfs-mounter';
import { VolumeStore } from './volumes/volume-store';
import { VolumeService } from './volumes/volume-service';
import { PluginVolumeRecords } from './volumes/plugin-volume-records';
import { PluginVolumeHook } from './volumes/plugin-volume-hook';
import { CompositePluginDirectory } from '@drydock/plugins';
import { LegacyPluginDirectory } from '@drydock/plugins';
import { VolumeDrivers } from './plugins/volume-drivers';
import { PluginManager } from './plugins/managed/plugin-manager';
import { PluginStore } from './plugins/managed/plugin-store';
import { PluginFetcher } from './plugins/managed/plugin-fetch';
import { PluginRuntime } from './plugins/managed/plugin-runtime';
import { ManagedPluginDirectory } from './plugins/managed/managed-plugin-directory';
import { diskUsage } from './node/disk-usage';
import { ImageStore } from './images';
import { AllTagsPuller, ImagePuller, ImagePusher, RegistryClient } from './images/distribution';
import { LocalIngest } from './images/content';
import { Heartbeat } from './node/heartbeat';
import { loadNodeIdentity } from './node/node-identity';
import { probeHostFacts, runcVersionText } from './node/host-facts';
import { introspectPlugins } from './containerd/introspection';
import { CgroupStatsReader } from './stats/cgroup-stats';
import { top } from './stats/top';
import { CgroupStatsSource } from './wiring/stats-adapter';
import { DockerSpecBuilder } from './wiring/spec-builder';
import { EventAdapter } from './wiring/event-adapter';
import { NativeLogBackend } from './wiring/log-backend';
import { ImageLookupAdapter } from './wiring/image-lookup';
import type { NatsConnection } from 'nats';
import { CniRunner } from './networks/cni';
import { HostNet } from './networks/host-net';
import { DnsLauncher } from './networks/dns';
import { NetworkDns } from './networks/network-dns';
import { NetworkManager } from './networks/network-manager';
import { PortHolder } from './networks/port-holder';
import { NetworkRuns } from './networks/network-runs';
import { FileNetworkStore } from './networks/network-store';
import { OverlayNetworks } from './networks/overlay/overlay-networks';
import { VxlanNet } from './networks/overlay/vxlan';
import { KvNodeLiveness } from './networks/overlay/node-liveness';
import { FileOverlayStore } from './networks/overlay/file-overlay-store';
import { KvOverlayStore, openOverlayBucket } from './networks/overlay/kv-overlay-store';
import { DEFAULT_NODES_BUCKET } from './node/heartbeat';
import { networksService } from './grpc/networks.service';
import type { KV } from 'nats';
import { KvNameRegistry } from './cluster/kv-names';
import { DirectorySync, openDirectory } from './cluster/directory-sync';
import { RescheduleAgent } from './cluster/reschedule-agent';
import { teeContainerEvents } from './wiring/event-adapter';

/** containerd snapshotter of image layers and container roots. */
const SNAPSHOTTER = 'overlayfs';

/** Composition root: wires config, clients, domain objects and the gRPC server. */
async function main(): Promise<void> {
  const config = loadSupervisorConfig(process.env);
  const logger = createLogger({ service: 'containerd-supervisor', level: config.logLevel });
  const identity = await loadNodeIdentity(join(config.stateDir, 'supervisor'), config.nodeName, config.nodeLabels);
  const log = logger.child({ component: 'main', nodeId: identity.nodeId });
  // what a burst of work leaves resident (V8's heap, freed malloc pages) goes back once the service is quiet
  startServiceIdleCollector(log);
  const loggerBinary = config.loggerBinary ?? resolve(__dirname, '../../native/drydock-logger');
  if (!existsSync(loggerBinary)) throw new Error(`log writer binary not found at ${loggerBinary}: run the build (npm run build)`);
  const dnsBinary = config.dnsBinary ?? resolve(__dirname, '../../native/drydock-dns');
  if (!existsSync(dnsBinary)) throw new Error(`embedded DNS binary not found at ${dnsBinary}: run the build (npm run build)`);

  const cc = new ContainerdClient({ address: config.containerdAddress, namespace: config.namespace, callTimeoutMs: config.containerdCallTimeoutMs });
  // containerd may still be starting (or restarting): wait, never give up.
  for (let attempt = 0; ; attempt++) {
    try {
      await cc.waitForReady(2000);
      break;
    } catch (err) {
      if (attempt % 5 === 0) log.warn({ address: config.containerdAddress }, 'waiting for containerd');
    }
  }

  // host facts for `docker info`, read once: versions and kernel settings do not change while we run
  const hostFacts = await probeHostFacts(
    {
      hostRoot: '/',
      containerdVersion: async () => {
        const v = await cc.unary(cc.version, cc.version.version, {});
        return { version: v.version ?? '', revision: v.revision ?? '' };
      },
      runcVersionText: () => runcVersionText('runc'),
      snapshotterRoot: async () => (await introspectPlugins(cc, [`type==io.containerd.snapshotter.v1,id==${SNAPSHOTTER}`]))[0]?.exports.root,
    },
    logger.child({ component: 'host-facts' }),
  );

  const events = new EventAdapter();
  const images = new ImageStore(cc, logger, { snapshotter: SNAPSHOTTER, platform: 'linux/amd64' });
  const registry = new RegistryClient({ baseUrl: config.registryProxyUrl, idleTimeoutMs: config.distribution.idleTimeoutMs });
  const distributionOpts = { ...config.distribution, contentTimeoutMs: 60 * 60 * 1000 };
  const localIngest = config.distribution.directIngest ? await LocalIngest.probe(cc, logger) : undefined;
  const puller = new ImagePuller(images, registry, logger, distributionOpts, localIngest);
  const pusher = new ImagePusher(images, registry, logger, distributionOpts);
  const allTags = new AllTagsPuller(puller, registry, logger, distributionOpts);
  const specs = new DockerSpecBuilder({ cgroupParent: config.cgroupParent, hostCpus: cpus().length });
  // Volumes live beside the services' state (not under supervisor/): <DRYDOCK_STATE_DIR>/volumes/<name>/_data.
  const localVolumes = new VolumeStore(join(config.stateDir, 'volumes'), logger);
  // managed plugins (installed from a registry, run as containers in their own namespace) first, as dockerd's store
  const pluginsCc = new ContainerdClient({ address: config.containerdAddress, namespace: config.plugins.namespace, callTimeoutMs: config.containerdCallTimeoutMs });
  const pluginStore = new PluginStore(join(config.stateDir, 'supervisor', 'plugins'), logger);
  const pluginRuntime = new PluginRuntime(pluginsCc, specs, { runDir: config.plugins.runDir, dialFirstMs: config.plugins.dialFirstMs, dialRetryMs: config.plugins.dialRetryMs, dialRetries: config.plugins.dialRetries, stopGraceMs: 10000, cgroupParent: config.cgroupParent }, logger);
  const pluginManager = new PluginManager(
    pluginStore,
    new PluginFetcher(registry, { retryWindowMs: config.distribution.retryWindowMs }),
    pluginRuntime,
    { restartBackoffMs: 100 },
    logger,
  );
  const pluginDirectory = new CompositePluginDirectory([
    new ManagedPluginDirectory(pluginManager, { rootfs: (id) => pluginStore.rootfs(id), propagatedMount: (id) => pluginStore.propagatedMount(id), socketPath: (r) => pluginRuntime.socketPath(r) }),
    new LegacyPluginDirectory(
      { socketsDir: config.plugins.socketsDir, specsDirs: config.plugins.specsDirs, activateTimeoutMs: config.plugins.shortTimeoutMs, lookupRetryMs: config.plugins.retryMs, connectRetryMs: config.plugins.retryMs },
      logger,
    ),
  ]);
  const volumeDrivers = new VolumeDrivers(pluginDirectory, { longMs: config.plugins.longTimeoutMs, shortMs: config.plugins.shortTimeoutMs }, config.plugins.retryMs, logger);
  const volumes = new VolumeService(localVolumes, new PluginVolumeRecords(join(config.stateDir, 'supervisor', 'plugin-volumes')), volumeDrivers, { listBudgetMs: config.plugins.volumeListBudgetMs }, logger);
  pluginManager.setVolumeUsage(volumes);
  const volumeHook = new PluginVolumeHook(volumes, join(config.stateDir, 'supervisor', 'plugin-volume-mounts'), logger);
  const mounter = new RootfsMounter(join(config.stateDir, 'supervisor', 'mnt'), logger);
  const netStore = new FileNetworkStore(config.network.stateDir);
  await netStore.init();
  // a test hook (DRYDOCK_SUPERVISOR_CRASH_AT): none armed on a node
  const crash = new CrashPoints(config.crashAt);
  if (crash.enabled) log.warn({ points: config.crashAt }, 'crash points armed (test hook)');
  const hostNet = new HostNet(config.network.chainPrefix, logger);
  const networks = new NetworkManager(netStore, hostNet, config.network, logger, crash);
  // overlay networks: the cluster's (NATS KV, once reached) on a node of a cluster, else this node's alone
  const liveness = config.cluster ? new KvNodeLiveness({ downAfterMs: config.overlay.nodeDownAfterMs, logger }) : undefined;
  const overlay = new OverlayNetworks(
    new VxlanNet(logger, { bridgePrefix: config.overlay.bridgePrefix }),
    hostNet,
    liveness,
    { nodeId: identity.nodeId, nodeName: identity.name, vtep: config.overlay.address, bridgePrefix: config.overlay.bridgePrefix, pools: config.overlay.pools },
    networks.overlayMirror(),
    logger,
  );
  networks.overlay = overlay;
  networks.onEvent = (action, n, containerId) => {
    events.network(action, n, containerId);
    // other nodes check new overlays against this node's own subnets
    if ((action === 'create' || action === 'destroy') && n.driver !== 'overlay' && overlay.ready) {
      overlay.store.publishLocalSubnets(identity.nodeId, networks.localSubnets()).catch((err) => log.warn({ err }, 'local subnets not published'));
    }
  };
  const containersDir = join(config.stateDir, 'supervisor', 'containers');
  let manager!: ContainerManager;
  // helpers are left running on shutdown: lookups go on while the supervisor restarts
  const dnsDir = join(config.network.stateDir, 'dns');
  const launcher = (hostResolvConf: string) => new DnsLauncher({ binary: dnsBinary, stateDir: dnsDir, hostResolvConf });
  const dns = new NetworkDns(networks, launcher(config.network.hostResolvConf), dnsDir, (ref) => manager.networkTarget(ref), launcher);
  const runs = new NetworkRuns(networks, new CniRunner(config.network.cniPath), {
    hostFiles: (id) => ({ hostname: join(containersDir, id, 'hostname'), hosts: join(containersDir, id, 'hosts'), resolvConf: join(containersDir, id, 'resolv.conf') }),
    hostResolvConf: config.network.hostResolvConf,
    findContainer: (ref) => manager.networkTarget(ref),
    dns,
    ports: new PortHolder(),
    crash,
  });
  // before the containers load: exits found there release endpoints
  await networks.init();
  // another node's endpoints came or went: the embedded DNS of the local containers on that network learns it
  overlay.onPeersChanged = (ids) => void dns.remoteChanged(ids).catch((err) => log.warn({ err }, 'overlay DNS records not rewritten'));
  // a node alone has its overlay store at hand: ready before any container with a restart policy starts
  if (!config.cluster) await overlay.start(new FileOverlayStore(join(config.network.stateDir, 'overlay')), networks.localSubnets());
  // a cluster's node: names taken in the directory bucket, the node's containers entered there (once NATS is reached)
  let directoryKv: KV | undefined;
  const inspectOrNone = (id: string) => {
    try {
      return manager.inspect(id);
    } catch {
      return undefined;
    }
  };
  const names = config.cluster ? new KvNameRegistry({ directory: () => directoryKv, nodeId: identity.nodeId, isLocal: (id) => !!inspectOrNone(id), timeoutMs: 5000 }) : undefined;
  const directorySync = names
    ? new DirectorySync({ nodeId: identity.nodeId, nodeName: identity.name, ids: () => manager.ids(), inspect: inspectOrNone, names, logger })
    : undefined;
  // makes the containers rescheduled here, removes those rescheduled away, and gates their restarts
  const rescheduleAgent = names
    ? new RescheduleAgent({
        nodeId: identity.nodeId,
        directory: () => directoryKv,
        containers: {
          ids: () => manager.ids(),
          inspect: inspectOrNone,
          create: (req) => manager.create(req),
          start: (id) => manager.start(id),
          remove: (id, o) => manager.remove(id, o),
          pull: async (ref) => {
            const it = puller.pull({ ref: /[:@]/.test(ref.split('/').pop() ?? '') ? ref : `${ref}:latest` }, new AbortController().signal);
            for (let n = await it.next(); ; n = await it.next()) if (n.done) return events.image('pull', n.value.reference, n.value.repository);
          },
        },
        names,
        logger,
      })
    : undefined;
  manager = new ContainerManager(
    cc,
    new ContainerStore(cc),
    new ImageLookupAdapter(images),
    images.snapshots,
    new NativeLogBackend(loggerBinary),
    specs,
    directorySync ? teeContainerEvents(events, directorySync) : events,
    volumes,
    new VolumeCopyUp(mounter),
    { stateDir: join(config.stateDir, 'supervisor'), nodeId: identity.nodeId, cgroupParent: config.cgroupParent, hostCpus: cpus().length },
    logger,
    // networking first: released last, after the plugin volumes are unmounted
    [runs, volumeHook],
    names,
    rescheduleAgent?.restartGate,
  );
  const execs = new ExecManager(cc, manager, new NativeLogBackend(loggerBinary), specs, events, join(config.stateDir, 'supervisor'), logger);
  const monitor = new TaskMonitor(
    cc,
    {
      onExit: (containerId, execId, status, exitedAtNs, pid) => {
        const p = !execId || execId === containerId ? manager.handleExit(containerId, status, exitedAtNs, pid) : execs.handleExit(containerId, execId, status);
        p.catch((err) => log.error({ err, containerId, execId }, 'exit handling failed'));
      },
      onOom: (containerId) => manager.handleOom(containerId),
      onResubscribed: () => manager.reconcile(),
    },
    logger,
  );
  // dockerd: "Plugin system initialization should happen before restore": every enabled plugin
  // runs and answers on its socket before a container with a restart policy is started again.
  await pluginManager.boot();
  // Subscribe before loading so no exit falls between the snapshot and the stream.
  monitor.start();
  await manager.load();
  // after the load (its exits released their runs): runs of tasks that are gone are released, the rest adopted
  await runs.init((id) => manager.taskPid(id));
  if (overlay.ready) await runs.overlayResync();
  // after that: released runs' helpers are stopped; the rest are adopted
  await dns.init();

  const handlers = new Handlers(logger.child({ component: 'grpc' }));
  const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const netSettings = {
    settings: (id: string, running: boolean) => {
      try {
        return runs.settings(id, manager.networkTarget(id).spec, running);
      } catch {
        return undefined;
      }
    },
  };
  server.addService(supervisorV1.ContainersService, containersService(manager, new CgroupStatsSource(new CgroupStatsReader()), { top: (pids, psArgs) => top(pids, psArgs) }, handlers, netSettings));
  server.addService(supervisorV1.NetworksService, networksService(networks, runs, handlers));
  server.addService(supervisorV1.ExecService, execService(execs, handlers));
  const committer = new ImageCommitter(images, manager, mounter, getfattr(), logger, localIngest);
  server.addService(supervisorV1.ImagesService, imagesService(images, manager, events, handlers, { puller, pusher, allTags }, { localBlobs: localIngest }, committer));
  server.addService(supervisorV1.ArchivesService, archivesService(new ArchiveManager(manager, mounter, logger), handlers));
  server.addService(supervisorV1.PluginsService, pluginsService(pluginManager, registry, { gzipLevel: config.distribution.gzipLevel }, handlers));
  server.addService(supervisorV1.VolumesService, volumesService(volumes, (name) => manager.volumeUsers(name), handlers));
  server.addService(
    supervisorV1.NodeService,
    nodeService(
      {
        nodeId: identity.nodeId,
        name: identity.name,
        labels: identity.labels,
        host: hostFacts,
        rootDir: config.stateDir,
        snapshotter: SNAPSHOTTER,
        counts: () => manager.counts(),
        imageCount: async () => (await images.listImages({})).length,
        diskUsage: () => diskUsage({ images, containers: manager, snapshotUsage: (id) => images.snapshots.usage(id), volumes: localVolumes }),
      },
      handlers,
    ),
  );
  const port = await new Promise<number>((res, rej) => server.bindAsync(config.listen, ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))));
  log.info({ listen: config.listen, port }, 'supervisor listening');

  // NATS is optional for serving: events queue in memory until it is reachable.
  let nc: NatsConnection | undefined;
  let sink: JetStreamEventSink | undefined;
  let heartbeat: Heartbeat | undefined;
  let closing = false;
  void connectNats({ servers: config.natsServers, name: `containerd-supervisor/${identity.nodeId}`, logger })
    .then((conn) => {
      if (closing) return void conn.close();
      nc = conn;
      sink = new JetStreamEventSink({ nc: conn, nodeId: identity.nodeId, logger, replicas: config.natsReplicas });
      events.attach(sink);
      heartbeat = new Heartbeat({
        nc: conn,
        identity,
        supervisorAddress: config.listen,
        // what `docker info` says (the gateway names containerd's overlayfs snapshotter overlay2, as dockerd does)
        engineLabels: { storagedriver: 'overlay2', kernelversion: release(), operatingsystem: hostFacts.os.name, ostype: 'linux' },
        countContainers: async () => manager.counts(),
        listImages: async () => (await images.listImages({})).flatMap((i) => [i.id, ...i.repoTags, ...i.repoDigests]),
        logger,
        ttlMs: config.heartbeatTtlMs,
        intervalMs: config.heartbeatIntervalMs,
        replicas: config.natsReplicas,
      });
      if (directorySync) {
        // In a cluster the first beat waits for the directory: a node seen up (by `npm run cluster`'s
        // readiness and by the scheduler) can take container names and reservations from then on.
        const hb = heartbeat;
        return openDirectory(conn, config.natsReplicas, log, () => closing).then((kv) => {
          if (!kv) return;
          directoryKv = kv;
          directorySync.attach(kv);
          rescheduleAgent?.start();
          hb.start();
          void startClusterOverlay(conn);
        });
      }
      heartbeat.start();
    })
    .catch((err) => log.error({ err }, 'nats connection failed'));

  // the cluster's overlay networks, once NATS answers (retried: the buckets may not be reachable yet)
  const startClusterOverlay = async (conn: NatsConnection): Promise<void> => {
    for (let attempt = 0; !closing; attempt++) {
      try {
        const nodesKv = await conn.jetstream({ timeout: 5000 }).views.kv(DEFAULT_NODES_BUCKET, { bindOnly: true });
        await liveness!.start(nodesKv);
        const kv = await openOverlayBucket(conn, config.natsReplicas);
        await overlay.start(new KvOverlayStore({ kv, nodeId: identity.nodeId, logger }), networks.localSubnets());
        await runs.overlayResync();
        log.info({ vtep: config.overlay.address }, 'overlay networks follow the cluster');
        return;
      } catch (err) {
        if (attempt % 10 === 0) log.warn({ err }, 'overlay store not reached; retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down; containers keep running');
    const force = setTimeout(() => process.exit(0), config.shutdownGraceMs).unref();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
    monitor.close();
    directorySync?.close();
    rescheduleAgent?.close();
    overlay.close();
    manager.close();
    pluginManager.close();
    pluginsCc.close();
    registry.close();
    await heartbeat?.stop().catch(() => undefined);
    await sink?.close().catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    cc.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(JSON.stringify({ level: 'fatal', msg: 'supervisor failed to start', err: { message: String(err?.message ?? err), stack: err?.stack } }));
  process.exit(1);
});
