import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { supervisorV1 } from '@drydock/proto';
import {
  buildProcessEnv,
  cpuResources,
  defaultSpec,
  DEFAULT_PATH_ENV,
  memoryResources,
  pidsResources,
  replaceOrAppendEnvValues,
  resolveUser,
  tweakCapabilities,
  DEFAULT_CAPABILITIES,
  validateResources,
  type Process,
  type ResourceOptions,
  type Spec,
  type UserMountOption,
  type DefaultSpecOptions,
} from '@drydock/oci-spec';
import type { RunSpecPatch } from '../containers/lifecycle-hooks';
import type { SpecBuilder, SpecInput } from '../containers/ports';
import type { ContainerSpecRecord } from '../containers/record';
import { readRootfsFile } from '../containers/rootfs-files';
import type { Mount } from '../containers/ports';

export interface SpecBuilderOptions {
  cgroupParent: string;
  hostCpus: number;
}

const num = (v: string | undefined): number => (v ? Number(v) : 0);

/** Docker's HostConfig resource fields (int64 strings on the wire) as numbers. */
export function resourceOptions(hc: supervisorV1.HostConfig): ResourceOptions {
  return {
    memory: num(hc.memory),
    memorySwap: num(hc.memorySwap),
    nanoCpus: num(hc.nanoCpus),
    cpuShares: num(hc.cpuShares),
    cpuPeriod: num(hc.cpuPeriod),
    cpuQuota: num(hc.cpuQuota),
    pidsLimit: num(hc.pidsLimit),
  };
}

/** Builds runtime specs with libs/oci-spec's Docker defaults, from facts of this host read once. */
export class DockerSpecBuilder implements SpecBuilder {
  private readonly hostNofileHard = readNofileHard();
  // Without swap accounting (no memsw file) Docker limits memory only and warns.
  private readonly swapLimitSupported = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || existsSync('/sys/fs/cgroup/cgroup.controllers');

  constructor(private readonly opts: SpecBuilderOptions) {}

  /**
   * A managed plugin's spec (dockerd's v2 Plugin.InitSpec): Docker's defaults plus only what the
   * plugin's config asked for and the user granted; the rootfs is the plugin store's directory.
   */
  plugin(opts: Pick<DefaultSpecOptions, 'args' | 'env' | 'cwd' | 'user' | 'rootPath' | 'capAdd' | 'mounts' | 'network' | 'ipcMode' | 'pidMode' | 'devices' | 'cgroupsPath'> & { allowAllDevices?: boolean; rootfsPropagation?: string }): object {
    const spec = defaultSpec({ ...opts, networkSysctls: opts.network === 'host' ? false : undefined, hostNofileHard: this.hostNofileHard, swapLimitSupported: this.swapLimitSupported });
    if (opts.allowAllDevices && spec.linux?.resources) spec.linux.resources.devices = [{ allow: true, access: 'rwm' }];
    if (opts.rootfsPropagation && spec.linux) spec.linux.rootfsPropagation = opts.rootfsPropagation;
    return spec;
  }

  async build(input: SpecInput): Promise<object> {
    const { record, image } = input;
    const cfg = record.config;
    const hc = record.hostConfig;
    const passwd = await readRootfsFile(input.rootfs, 'etc/passwd');
    const group = await readRootfsFile(input.rootfs, 'etc/group');
    const user = resolveUser(cfg.user ?? '', passwd, group);
    const hostname = cfg.hostname || record.id.slice(0, 12);
    const mounts: UserMountOption[] = (hc.mounts ?? []).map((m) => {
      if (m.type === 'tmpfs') return { type: 'tmpfs', destination: m.target ?? '', data: m.options ?? '' };
      // a plugin volume's source is the path its Mount answers at each start (forRun's mountSources)
      const plugin = m.type === 'volume' && !!m.driver && m.driver !== 'local';
      const source = plugin ? `/nonexistent/plugin-volume/${m.driver}/${m.source}` : m.type === 'volume' ? join(input.volumesDir, m.source ?? '', '_data') : m.source ?? '';
      return { type: 'bind', source, destination: m.target ?? '', readOnly: !!m.readOnly };
    });
    void image;
    return defaultSpec({
      args: [record.path, ...record.args],
      env: buildProcessEnv(undefined, cfg.env ?? [], { hostname, tty: !!cfg.tty, home: user.home }),
      cwd: cfg.workingDir || '/',
      terminal: !!cfg.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      hostname,
      domainname: cfg.domainname || undefined,
      readonlyRootfs: !!hc.readonlyRootfs,
      cgroupsPath: `${this.opts.cgroupParent}/${record.id}`,
      privileged: !!hc.privileged,
      capAdd: hc.capAdd,
      capDrop: hc.capDrop,
      mounts,
      networkFiles: { hostname: input.files.hostname, hosts: input.files.hosts, resolvConf: input.files.resolvConf },
      shmSize: num(hc.shmSize) || undefined,
      network: hc.networkMode === 'host' ? 'host' : 'private',
      // dockerd sets the network sysctls only in a namespace of the container's own
      networkSysctls: hc.networkMode === 'host' || hc.networkMode?.startsWith('container:') ? false : undefined,
      resources: resourceOptions(hc),
      swapLimitSupported: this.swapLimitSupported,
      hostNofileHard: this.hostNofileHard,
    });
  }

  async execProcess(containerSpec: object, exec: supervisorV1.CreateExecRequest, rootfs: Mount[]): Promise<object> {
    const base = (containerSpec as Spec).process!;
    let user = base.user;
    if (exec.user) {
      const u = resolveUser(exec.user, await readRootfsFile(rootfs, 'etc/passwd'), await readRootfsFile(rootfs, 'etc/group'));
      user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
    }
    const env = replaceOrAppendEnvValues(base.env ?? [], exec.env ?? []);
    const p: Process = {
      ...base,
      terminal: !!exec.tty,
      args: exec.cmd ?? [],
      env: exec.tty && !env.some((e) => e.startsWith('TERM=')) ? [...env, 'TERM=xterm'] : env,
      cwd: exec.workingDir || base.cwd,
      user,
      consoleSize: undefined,
    };
    if (exec.privileged) {
      const caps = tweakCapabilities(DEFAULT_CAPABILITIES, [], [], true);
      p.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps };
    }
    return p;
  }

  validateHostConfig(hc: supervisorV1.HostConfig): void {
    validateResources({ ...resourceOptions(hc), shmSize: num(hc.shmSize) }, this.opts.hostCpus);
  }

  withResources(spec: object, hc: supervisorV1.HostConfig): object {
    const s = spec as Spec;
    const r = resourceOptions(hc);
    const linux = s.linux ?? {};
    s.linux = {
      ...linux,
      resources: {
        ...(linux.resources ?? {}),
        memory: memoryResources(r, this.swapLimitSupported),
        cpu: cpuResources(r),
        pids: pidsResources(r),
      },
    };
    return s;
  }

  forRun(spec: object, record: ContainerSpecRecord, patch: RunSpecPatch): object {
    const s = spec as Spec;
    const cfg = record.config;
    const hostname = patch.hostname ?? cfg.hostname ?? record.id.slice(0, 12);
    const linux = s.linux ?? {};
    if (patch.netnsPath) {
      linux.namespaces = (linux.namespaces ?? []).map((n) => (n.type === 'network' ? { type: 'network', path: patch.netnsPath } : n));
    }
    if (patch.domainname !== undefined) {
      const { ['kernel.domainname']: _old, ...rest } = linux.sysctl ?? {};
      linux.sysctl = patch.domainname ? { ...rest, 'kernel.domainname': patch.domainname } : rest;
      s.domainname = patch.domainname || undefined;
    }
    s.linux = linux;
    s.hostname = hostname;
    if (patch.files) {
      const sources: Record<string, string> = { '/etc/hostname': patch.files.hostname, '/etc/hosts': patch.files.hosts, '/etc/resolv.conf': patch.files.resolvConf };
      // only the generated files (<containers>/<id>/hosts ...), never a user's bind mount over them
      const generated = (src: string | undefined) => !!src && /\/[0-9a-f]{64}\/(hostname|hosts|resolv\.conf)$/.test(src);
      s.mounts = (s.mounts ?? []).map((m) => (sources[m.destination] && m.type === 'bind' && generated(m.source) ? { ...m, source: sources[m.destination] } : m));
    }
    if (patch.mountSources && Object.keys(patch.mountSources).length > 0) {
      const src = patch.mountSources;
      s.mounts = (s.mounts ?? []).map((m) => (src[m.destination] && m.type === 'bind' ? { ...m, source: src[m.destination] } : m));
    }
    if (s.process) {
      // dockerd's CreateDaemonEnvironment: PATH, HOSTNAME, TERM, the link variables, then Env over them
      const old = s.process.env ?? [];
      const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`, ...(cfg.tty ? ['TERM=xterm'] : []), ...(patch.env ?? [])];
      const env = replaceOrAppendEnvValues(defaults, cfg.env ?? []);
      // HOME came from the user's passwd entry at create: keep it
      const home = old.find((e) => e.startsWith('HOME='));
      if (home && !env.some((e) => e.startsWith('HOME='))) env.push(home);
      s.process = { ...s.process, env };
    }
    return s;
  }

  resources(spec: object): object {
    return (spec as Spec).linux?.resources ?? {};
  }
}

/** The host's RLIMIT_NOFILE hard limit (runc fails if a container asks for more). */
function readNofileHard(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.trim().split(/\s+/)[4];
    return hard && /^\d+$/.test(hard) ? Number(hard) : undefined;
  } catch {
    return undefined;
  }
}
