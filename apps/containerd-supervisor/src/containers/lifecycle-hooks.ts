import type { Logger } from '@drydock/logging';
import type { ContainerSpecRecord } from './record';

/** The container a hook is called for. */
export interface HookContainer {
  id: string;
  name: string;
  spec: ContainerSpecRecord;
}

/** A run about to start: its task exists (namespaces made, init pid known) but its process has not run yet. */
export interface HookRun extends HookContainer {
  pid: number;
}

export type ReleaseReason = 'exit' | 'start-failed' | 'remove';

/**
 * What a run's OCI spec takes from a hook, applied before its task is made (dockerd's
 * initializeNetworking and setupLinkedContainers run before its createSpec).
 */
export interface RunSpecPatch {
  /** A network namespace to join (another container's /proc/<pid>/ns/net) instead of a new one. */
  netnsPath?: string;
  /** Host files bind-mounted at /etc/hostname, /etc/hosts and /etc/resolv.conf (another container's). */
  files?: { hostname: string; hosts: string; resolvConf: string };
  /** The run's hostname and domain name; the record's config takes them too, as dockerd's does. */
  hostname?: string;
  domainname?: string;
  /** Variables set before the container's own Env (dockerd's legacy link variables). */
  env?: string[];
  /** Host paths bound at these container paths this run (a volume plugin's Mount answer). */
  mountSources?: Record<string, string>;
}

/**
 * A capability that joins the container lifecycle without the lifecycle code
 * knowing it (networking: attach the run's network namespace before the
 * process runs, give the addresses back when it ends), the way containerd
 * plugins register rather than being branched on.
 */
export interface ContainerLifecycleHook {
  readonly name: string;
  /**
   * At create, before anything is written: a throw refuses the create with that error
   * (a network that does not exist, a port binding that cannot be parsed).
   */
  validate?(c: HookContainer): Promise<void>;
  /**
   * Before each run's process starts (after Tasks.Create, before Tasks.Start).
   * A throw fails the start with that error; hooks prepared before it are released.
   */
  prepare?(run: HookRun): Promise<void>;
  /**
   * Before each run's task is made: what its spec takes from others (a namespace to join,
   * link variables). A throw fails the start with that error, before anything is made.
   */
  runSpec?(c: HookContainer): Promise<RunSpecPatch | undefined>;
  /**
   * After a run ended (its exit is recorded and its task deleted; a policy restart
   * prepares again), after a start failed past prepare, and when the container is
   * removed. Must be idempotent: it can come for a run this process never prepared
   * (an exit found after a supervisor restart) and twice for one run (exit, then remove).
   */
  release?(c: HookContainer, reason: ReleaseReason): Promise<void>;
  /** After docker rename (the name others know the container by: its DNS name on user networks). */
  renamed?(c: HookContainer): Promise<void>;
}

/** The registered hooks, called in order to prepare and in reverse order to release. */
export class LifecycleHooks {
  private readonly log: Logger;

  constructor(private readonly hooks: readonly ContainerLifecycleHook[], logger: Logger) {
    this.log = logger.child({ component: 'lifecycle-hooks' });
  }

  async validate(c: HookContainer): Promise<void> {
    for (const h of this.hooks) await h.validate?.(c);
  }

  /** The hooks' patches merged (later hooks win; env lists are joined), undefined when none has one. */
  async runSpec(c: HookContainer): Promise<RunSpecPatch | undefined> {
    let out: RunSpecPatch | undefined;
    for (const h of this.hooks) {
      const p = await h.runSpec?.(c);
      if (!p) continue;
      const mountSources = out?.mountSources || p.mountSources ? { ...out?.mountSources, ...p.mountSources } : undefined;
      out = { ...out, ...p, env: [...(out?.env ?? []), ...(p.env ?? [])], ...(mountSources ? { mountSources } : {}) };
    }
    return out;
  }

  async prepare(run: HookRun): Promise<void> {
    const done: ContainerLifecycleHook[] = [];
    for (const h of this.hooks) {
      try {
        await h.prepare?.(run);
        done.push(h);
      } catch (err) {
        await this.releaseAll(done, run, 'start-failed');
        throw err;
      }
    }
  }

  /** Never throws: a run that ended or a container that is gone cannot be kept by a hook's failure. */
  release(c: HookContainer, reason: ReleaseReason): Promise<void> {
    return this.releaseAll(this.hooks, c, reason);
  }

  /** Never throws: the rename is done. */
  async renamed(c: HookContainer): Promise<void> {
    for (const h of this.hooks) {
      try {
        await h.renamed?.(c);
      } catch (err) {
        this.log.warn({ err, containerId: c.id, hook: h.name }, 'lifecycle hook rename failed');
      }
    }
  }

  private async releaseAll(hooks: readonly ContainerLifecycleHook[], c: HookContainer, reason: ReleaseReason): Promise<void> {
    for (const h of [...hooks].reverse()) {
      try {
        await h.release?.(c, reason);
      } catch (err) {
        this.log.warn({ err, containerId: c.id, hook: h.name, reason }, 'lifecycle hook release failed');
      }
    }
  }
}
