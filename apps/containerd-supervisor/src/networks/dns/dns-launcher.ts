import { spawn } from 'node:child_process';
import { readdir, readFile, rm, mkdir, access } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InternalError, InvalidArgumentError } from '@drydock/errors';
import { writeDnsRecordsFile, type DnsRecord } from './records-file';

export interface DnsLauncherOptions {
  /** Path of the compiled native/drydock-dns.c (dist/native/drydock-dns). */
  binary: string;
  /** One directory per container under it: records, dns.pid, dns.log. */
  stateDir: string;
  /** The host's resolv.conf, whose nameservers answer every other name. Default /etc/resolv.conf. */
  hostResolvConf?: string;
  /** Per upstream server and query (drydock-dns default 4000, as dockerd). */
  upstreamTimeoutMs?: number;
  /** Bound on the daemonizing start. Default 5000. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 2000. */
  stopTimeoutMs?: number;
}

/** Which network namespace a container's DNS serves. */
export interface DnsTarget {
  /** The container's init pid: its netns is entered, and the helper exits when it is gone. */
  pid?: number;
  /** A netns file (bind mount); the helper exits when it is unmounted or removed. */
  netnsPath?: string;
}

/** A running drydock-dns, found by its pidfile and checked by /proc/<pid>/cmdline. */
export interface DnsHelperProcess {
  containerId: string;
  pid: number;
  recordsPath: string;
  target: DnsTarget;
}

const BINARY_NAME = 'drydock-dns';
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Starts, finds and stops the embedded DNS server of each container
 * (native/drydock-dns.c), one detached process per container. The processes
 * belong to no supervisor process: they keep answering while it restarts, and
 * a restarted supervisor finds them again by their pidfiles (list(), find()).
 * A helper exits by itself when its container's init process or netns goes.
 */
export class DnsLauncher {
  private readonly resolv: string;
  private readonly stateDir: string;

  constructor(private readonly opts: DnsLauncherOptions) {
    // Absolute: find() compares them with a helper's argv after a restart.
    this.resolv = resolve(opts.hostResolvConf ?? '/etc/resolv.conf');
    this.stateDir = resolve(opts.stateDir);
  }

  dir(containerId: string): string {
    if (!ID.test(containerId)) throw new InvalidArgumentError(`invalid container id for DNS: ${JSON.stringify(containerId)}`);
    return join(this.stateDir, containerId);
  }
  recordsPath(containerId: string): string {
    return join(this.dir(containerId), 'records');
  }
  pidfilePath(containerId: string): string {
    return join(this.dir(containerId), 'dns.pid');
  }
  logPath(containerId: string): string {
    return join(this.dir(containerId), 'dns.log');
  }

  /** Replaces the names a container resolves; a running helper picks them up on its next query. */
  writeRecords(containerId: string, records: readonly DnsRecord[]): Promise<void> {
    return writeDnsRecordsFile(this.recordsPath(containerId), records);
  }

  /**
   * Makes sure the container's DNS answers in `target`'s netns, and returns
   * once it listens. Idempotent: a helper already serving that target is
   * returned as is; one serving another target (a previous run of a restarted
   * container) is stopped first. Call between Tasks.Create and Tasks.Start
   * with the init pid, or before the task with a netns path.
   */
  async start(containerId: string, target: DnsTarget): Promise<DnsHelperProcess> {
    const args = this.targetArgs(target);
    const dir = this.dir(containerId);
    await mkdir(dir, { recursive: true });
    const records = this.recordsPath(containerId);
    if (!(await exists(records))) await writeDnsRecordsFile(records, []);

    const running = await this.find(containerId);
    if (running && sameTarget(running.target, target)) return running;
    if (running) await this.kill(running.pid);

    args.push('--records', records, '--resolv', this.resolv, '--pidfile', this.pidfilePath(containerId), '--log', this.logPath(containerId));
    if (this.opts.upstreamTimeoutMs !== undefined) args.push('--upstream-timeout-ms', String(Math.max(1, Math.floor(this.opts.upstreamTimeoutMs))));
    try {
      const pid = await this.run(args);
      return { containerId, pid, recordsPath: records, target: { ...target } };
    } catch (err) {
      // A concurrent start() for the same container won the pidfile lock.
      const other = /already running/.test(String((err as Error).message)) ? await this.find(containerId) : undefined;
      if (other && sameTarget(other.target, target)) return other;
      throw err;
    }
  }

  /** The container's running helper, if any (after a supervisor restart too). */
  async find(containerId: string): Promise<DnsHelperProcess | undefined> {
    const records = this.recordsPath(containerId);
    let pid: number;
    try {
      pid = Number.parseInt((await readFile(this.pidfilePath(containerId), 'utf8')).trim(), 10);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const argv = await helperArgv(pid);
    // The pid may have been reused by another process since: it must be a
    // drydock-dns serving this container's records file.
    if (!argv || basename(argv[0] ?? '') !== basename(this.opts.binary) || option(argv, '--records') !== records) return undefined;
    const target: DnsTarget = {};
    const p = option(argv, '--pid');
    const ns = option(argv, '--netns');
    if (p !== undefined) target.pid = Number(p);
    if (ns !== undefined) target.netnsPath = ns;
    return { containerId, pid, recordsPath: records, target };
  }

  /** Every running helper under the state dir: what a restarted supervisor adopts. */
  async list(): Promise<DnsHelperProcess[]> {
    let ids: string[];
    try {
      ids = await readdir(this.stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: DnsHelperProcess[] = [];
    for (const id of ids.filter((i) => ID.test(i)).sort()) {
      const h = await this.find(id);
      if (h) out.push(h);
    }
    return out;
  }

  /**
   * Stops the container's helper (SIGTERM, SIGKILL after stopTimeoutMs) and
   * removes its directory (records, pidfile, log). Idempotent.
   */
  async stop(containerId: string, opts: { keepFiles?: boolean } = {}): Promise<void> {
    const running = await this.find(containerId);
    if (running) await this.kill(running.pid);
    if (!opts.keepFiles) await rm(this.dir(containerId), { recursive: true, force: true });
  }

  private targetArgs(target: DnsTarget): string[] {
    const args: string[] = [];
    if (target.pid !== undefined) {
      if (!Number.isInteger(target.pid) || target.pid <= 0) throw new InvalidArgumentError(`invalid pid for DNS: ${target.pid}`);
      args.push('--pid', String(target.pid));
    }
    if (target.netnsPath !== undefined) {
      if (!target.netnsPath.startsWith('/')) throw new InvalidArgumentError(`netns path must be absolute: ${target.netnsPath}`);
      args.push('--netns', target.netnsPath);
    }
    if (args.length === 0) throw new InvalidArgumentError('DNS needs the container init pid or its netns path');
    return args;
  }

  /** Runs the daemonizing binary: it exits once the server listens, printing its pid. */
  private run(args: string[]): Promise<number> {
    const timeoutMs = this.opts.startTimeoutMs ?? 5000;
    return new Promise<number>((resolve, reject) => {
      // detached: the short-lived parent is in its own session too; the server
      // itself calls setsid() and shares no fd with us once started.
      const child = spawn(this.opts.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let errText = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (errText += s));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new InternalError(`${BINARY_NAME} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new InternalError(`cannot start ${BINARY_NAME} (${this.opts.binary}): ${err.message}`, { cause: err }));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const pid = Number.parseInt(out.trim(), 10);
        if (code === 0 && Number.isInteger(pid) && pid > 0) resolve(pid);
        else reject(new InternalError(errText.trim() || `${BINARY_NAME} exited with ${signal ?? code}`));
      });
    });
  }

  private async kill(pid: number): Promise<void> {
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 2000);
    while (await alive(pid)) {
      if (Date.now() > deadline) {
        signal(pid, 'SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** argv of a live (not zombie) process, or undefined. */
async function helperArgv(pid: number): Promise<string[] | undefined> {
  try {
    if (!(await alive(pid))) return undefined;
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s, i, a) => i < a.length - 1 || s !== '');
  } catch {
    return undefined;
  }
}

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}

function sameTarget(a: DnsTarget, b: DnsTarget): boolean {
  return a.pid === b.pid && a.netnsPath === b.netnsPath;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
