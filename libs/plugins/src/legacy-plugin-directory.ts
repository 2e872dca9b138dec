import { performance } from 'node:perf_hooks';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { InternalError, InvalidArgumentError } from '@drydock/errors';
import type { Logger } from '@drydock/logging';
import { PluginClient } from './plugin-client';
import { pluginNotFound, type PluginDirectory, type PluginEndpoint } from './plugin-directory';

export interface LegacyPluginDirectoryOptions {
  /** dockerd: /run/docker/plugins (`NAME.sock` or `NAME/NAME.sock`). */
  socketsDir: string;
  /** dockerd: /etc/docker/plugins, /usr/lib/docker/plugins (`NAME.spec` with a URL, `NAME.json` with {Name, Addr}). */
  specsDirs: readonly string[];
  /** Deadline of the /Plugin.Activate handshake (dockerd has none; its short 1 minute here). */
  activateTimeoutMs: number;
  /** How long `get` looks for a plugin that is not there yet (dockerd's loadWithRetry: 30 s window, backoff 1, 2, 4, 8 s). */
  lookupRetryMs: number;
  /** Connection failures are retried this long within a call's deadline (dockerd: 30 s). */
  connectRetryMs: number;
}

interface Found {
  /** What identifies the address found (a changed one is activated again). */
  key: string;
  socket?: string;
  url?: string;
}

interface Activation {
  key: string;
  done: Promise<PluginEndpoint>;
}

/**
 * Legacy (v1) plugins, found on the host as dockerd's pkg/plugins finds them: a socket under the
 * sockets directory first, then a spec file, then activated lazily with POST /Plugin.Activate.
 * Activations are cached per name and address, and shared by concurrent callers (dockerd's
 * activateWait); a failed one is forgotten so the next call tries again.
 */
export class LegacyPluginDirectory implements PluginDirectory {
  private readonly activations = new Map<string, Activation>();
  private readonly log: Logger;

  constructor(
    private readonly opts: LegacyPluginDirectoryOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'legacy-plugins' });
  }

  async get(name: string, capability: string): Promise<PluginEndpoint> {
    if (!name) throw new InvalidArgumentError('Unable to find plugin without name');
    const ep = await this.load(name, true);
    // dockerd: pkg/plugins ErrNotImplements, wrapped by the plugin store as a legacy plugin's error
    if (!ep.implements.includes(capability)) throw new InternalError('legacy plugin: Plugin does not implement the requested driver');
    return ep;
  }

  async all(capability: string): Promise<PluginEndpoint[]> {
    const names = await this.scan();
    // dockerd's GetAll: every plugin found is activated at once, without the lookup retries
    const loaded = await Promise.all(
      names.map((n) =>
        this.load(n, false).catch((err) => {
          this.log.warn({ err, plugin: n }, 'legacy plugin activation failed');
          return undefined;
        }),
      ),
    );
    return loaded.filter((p): p is PluginEndpoint => !!p && p.implements.includes(capability));
  }

  /** Names of every plugin under the directories (dockerd's Scan), deduplicated. */
  async scan(): Promise<string[]> {
    const names: string[] = [];
    for (const e of await readdirSafe(this.opts.socketsDir)) {
      let path = join(this.opts.socketsDir, e);
      let base = e;
      const st = await stat(path).catch(() => undefined);
      if (st?.isDirectory()) {
        path = join(path, `${e}.sock`);
        base = `${e}.sock`;
      }
      const s = st?.isDirectory() ? await stat(path).catch(() => undefined) : st;
      if (s?.isSocket()) names.push(base.slice(0, base.length - extname(base).length));
    }
    for (const dir of this.opts.specsDirs) {
      for (const e of await readdirSafe(dir)) {
        let file = e;
        const st = await stat(join(dir, e)).catch(() => undefined);
        if (st?.isDirectory()) {
          const inner = (await readdirSafe(join(dir, e))).find((i) => i.slice(0, i.length - extname(i).length) === e);
          if (!inner) continue;
          file = inner;
        }
        const ext = extname(file);
        if (ext === '.spec' || ext === '.json') names.push(file.slice(0, file.length - ext.length));
      }
    }
    return [...new Set(names)];
  }

  private async load(name: string, retry: boolean): Promise<PluginEndpoint> {
    const started = performance.now();
    let found: Found | undefined;
    for (let retries = 0; ; retries++) {
      found = await this.find(name);
      if (found || !retry) break;
      const wait = Math.min(2 ** retries, 30) * 1000;
      if (performance.now() - started + wait >= this.opts.lookupRetryMs) break;
      this.log.warn({ plugin: name, retryInMs: wait }, 'unable to locate plugin, retrying');
      await new Promise((r) => setTimeout(r, wait));
    }
    if (!found) throw pluginNotFound(name);
    const cached = this.activations.get(name);
    if (cached && cached.key === found.key) return cached.done;
    const done = this.activate(name, found);
    const entry = { key: found.key, done };
    this.activations.set(name, entry);
    done.catch(() => {
      if (this.activations.get(name) === entry) this.activations.delete(name);
    });
    return done;
  }

  private async activate(name: string, found: Found): Promise<PluginEndpoint> {
    const client = new PluginClient({ name, socket: found.socket, url: found.url }, { connectRetryMs: this.opts.connectRetryMs });
    const manifest = await client.call<{ Implements?: unknown } | undefined>('Plugin.Activate', undefined, this.opts.activateTimeoutMs);
    const impl = manifest?.Implements;
    if (!Array.isArray(impl) || impl.some((i) => typeof i !== 'string')) {
      throw new InternalError(`Plugin.Activate: plugin "${name}" answered without an Implements list`);
    }
    this.log.info({ plugin: name, implements: impl, socket: found.socket, url: found.url }, 'legacy plugin activated');
    return { name, socket: found.socket, url: found.url, implements: impl as string[], managed: false };
  }

  /** dockerd's localRegistry.Plugin: sockets first, then .spec and .json files. */
  private async find(name: string): Promise<Found | undefined> {
    if (name.includes('/') || name === '.' || name === '..') return undefined;
    for (const p of pluginPaths(this.opts.socketsDir, name, '.sock')) {
      const st = await stat(p).catch(() => undefined);
      // a restarted plugin makes a new socket (the inode number may be reused): activated again
      if (st?.isSocket()) return { key: `unix:${p}:${st.ino}:${st.ctimeMs}`, socket: p };
    }
    const specs = this.opts.specsDirs.flatMap((d) => [...pluginPaths(d, name, '.spec'), ...pluginPaths(d, name, '.json')]);
    for (const p of specs) {
      const text = await readFile(p, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const addr = p.endsWith('.json') ? jsonAddr(p, text) : text.trim();
      return { key: `spec:${p}:${addr}`, ...addressOf(p, addr) };
    }
    return undefined;
  }
}

function pluginPaths(base: string, name: string, ext: string): string[] {
  return [join(base, `${name}${ext}`), join(base, name, `${name}${ext}`)];
}

function jsonAddr(path: string, text: string): string {
  try {
    const v = JSON.parse(text) as { Addr?: unknown };
    if (typeof v?.Addr === 'string') return v.Addr;
  } catch {
    // reported below
  }
  throw new InternalError(`plugin spec ${path}: not a JSON object with an Addr`);
}

/** A spec file's URL: unix:///path is a socket, tcp:// and http(s):// are HTTP. */
function addressOf(path: string, addr: string): { socket?: string; url?: string } {
  let u: URL;
  try {
    u = new URL(addr);
  } catch {
    throw new InternalError(`plugin spec ${path}: Unknown protocol`);
  }
  if (u.protocol === 'unix:') return { socket: u.pathname || u.host };
  if (['tcp:', 'http:', 'https:'].includes(u.protocol)) return { url: addr };
  throw new InternalError(`plugin spec ${path}: unsupported protocol ${u.protocol}`);
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
