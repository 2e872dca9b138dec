import { join } from 'node:path';
import { run } from './exec';

/** One plugin of a chain: its network config (without cniVersion/name/prevResult). */
export type PluginConf = Record<string, unknown> & { type: string };

export interface CniCall {
  containerId: string;
  /** Netns path; "" when it is gone (DEL after the run ended). */
  netns: string;
  ifname: string;
}

/**
 * Runs the CNI plugins of Debian's containernetworking-plugins the way libcni
 * does (SPEC.md): the config on stdin, CNI_* in the environment, ADD through the
 * chain with each result as the next prevResult, DEL in reverse order.
 */
export class CniRunner {
  constructor(private readonly pluginDir: string, private readonly version = '1.0.0') {}

  async add(netName: string, plugins: PluginConf[], call: CniCall): Promise<unknown> {
    let prev: unknown;
    for (const p of plugins) prev = await this.exec('ADD', netName, p, call, prev);
    return prev;
  }

  /** Deletes in reverse order; every plugin is tried, the first error is thrown after. */
  async del(netName: string, plugins: PluginConf[], call: CniCall, prevResult?: unknown): Promise<void> {
    let first: unknown;
    for (const p of [...plugins].reverse()) {
      try {
        await this.exec('DEL', netName, p, call, prevResult);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }

  private async exec(command: 'ADD' | 'DEL', netName: string, plugin: PluginConf, call: CniCall, prevResult: unknown): Promise<unknown> {
    const conf = { cniVersion: this.version, name: netName, ...plugin, ...(prevResult ? { prevResult } : {}) };
    const r = await run(join(this.pluginDir, plugin.type), [], {
      input: JSON.stringify(conf),
      env: {
        PATH: process.env.PATH,
        CNI_COMMAND: command,
        CNI_CONTAINERID: call.containerId,
        CNI_NETNS: call.netns,
        CNI_IFNAME: call.ifname,
        CNI_PATH: this.pluginDir,
      },
    });
    if (r.code !== 0) {
      let msg = (r.stderr || r.stdout).trim();
      try {
        const e = JSON.parse(r.stdout) as { msg?: string; details?: string };
        msg = [e.msg, e.details].filter(Boolean).join(': ');
      } catch {
        // not a CNI error object
      }
      throw new Error(`cni ${plugin.type} ${command}: ${msg}`);
    }
    return command === 'ADD' && r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  }
}
