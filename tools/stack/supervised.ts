// What the single-node stack (stack.ts) and the cluster (tools/cluster) share: children under a
// watchdog in their own process groups, with prefixed output and pid records, and the list of built apps.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unixSocketAnswers, Watchdog, type CommandSpec, type WatchdogOptions } from '@drydock/infra';
import { LinePrefixer } from './line-prefix';
import type { PidRecords } from './pid-records';

/** Short names for prefixes; other apps go by their directory name. */
export const SHORT_NAMES: Record<string, string> = { 'containerd-supervisor': 'supervisor', 'api-gateway': 'gateway' };

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });
}

/**
 * A watchdog whose child runs in its own process group (so Ctrl-C reaches only the tool, which
 * stops children in order) with output prefixed by `[<prefix>] ` and a pid record under `record`.
 */
export function supervised(
  o: { name: string; prefix?: string; record?: string; records: PidRecords; log: (line: string) => void },
  command: () => CommandSpec,
  extra: Partial<WatchdogOptions> = {},
): Watchdog {
  const record = o.record ?? o.name;
  const prefix = o.prefix ?? o.name;
  return new Watchdog({
    name: o.name,
    log: o.log,
    ...extra,
    spawn: () => {
      const spec = command();
      const child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], env: spec.env, cwd: spec.cwd, detached: true });
      const out = new LinePrefixer(`[${prefix}] `, (t) => process.stdout.write(t));
      const err = new LinePrefixer(`[${prefix}] `, (t) => process.stderr.write(t));
      child.stdout!.on('data', (d: Buffer) => out.push(d)).on('end', () => out.flush());
      child.stderr!.on('data', (d: Buffer) => err.push(d)).on('end', () => err.flush());
      child.once('exit', () => o.records.forget(record));
      if (child.pid) o.records.record(record, child.pid);
      return child;
    },
  });
}

/**
 * A beforeSpawn for containerd: a containerd that survived an earlier run (or runs for someone else)
 * keeps serving the socket, so use it, and start ours only once it stops answering.
 */
export function adoptRunningContainerd(address: string, prefix: string): WatchdogOptions['beforeSpawn'] {
  return async (signal) => {
    if (!(await unixSocketAnswers(address))) return;
    process.stdout.write(`[${prefix}] a running containerd already serves ${address}: using it\n`);
    while (!signal.aborted && (await unixSocketAnswers(address))) await sleep(1000, signal);
    if (!signal.aborted) process.stdout.write(`[${prefix}] it stopped answering: starting containerd\n`);
  };
}

/** The app directories under `repoRoot/apps` and those of them built into dist (restricted to `selected`). */
export function builtApps(repoRoot: string, selected?: string[]): { all: string[]; built: string[] } {
  const appsDir = join(repoRoot, 'apps');
  const all = existsSync(appsDir) ? readdirSync(appsDir).filter((n) => statSync(join(appsDir, n)).isDirectory()).sort() : [];
  const unknown = selected?.filter((a) => !all.includes(a)) ?? [];
  if (unknown.length) throw new Error(`DRYDOCK_STACK_APPS names no app directory: ${unknown.join(', ')}`);
  const built = all.filter((a) => existsSync(join(repoRoot, 'dist/apps', a, 'main.js')));
  return { all, built: selected ? built.filter((a) => selected.includes(a)) : built };
}
