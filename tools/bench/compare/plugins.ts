/**
 * The plugin rows of the comparison (`--only plugins`): the same managed plugins on both engines, installed with
 * `docker plugin install --grant-all-permissions` from a private docker-registry on 127.0.0.1 (the test volume
 * plugin, libs/testing/fixtures/volume-plugin.c, packaged as a plugin image; the same binary with `--authz allow`
 * as an allow-all authorization plugin). Rows: volume create -d + run -v + volume rm through the volume plugin,
 * `ps` with and without the authorization plugin, and the resident memory an engine keeps per running plugin.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryProcess } from '@drydock/infra';
import { buildVolumePlugin, buildVolumePluginImage, pushPluginImage, volumePluginConfig } from '@drydock/testing';
import type { DockerEngine, DrydockEngine, Engine, EngineProcess } from './engines';
import { argvOf, descendantsOf } from './host-network';
import { stats, type Row } from './report';

export interface PluginBenchConfig {
  warmups: number;
  /** volume create + run -v + volume rm samples per engine */
  pluginRuns: number;
  /** `ps` samples per engine, with and without the authorization plugin */
  authzRuns: number;
}

export interface PluginBenchContext {
  drydock: DrydockEngine;
  docker: DockerEngine;
  engines: Engine[];
  cfg: PluginBenchConfig;
  run(e: Engine, args: string[], opts?: { keep?: boolean; timeoutMs?: number }): Promise<{ ms: number; stdout: string }>;
  alternate(label: string, engines: Engine[], n: number, fn: (e: Engine, i: number) => Promise<number>): Promise<Map<Engine, number[]>>;
  workload(name: string, unit: string, fn: () => Promise<Omit<Row, 'workload' | 'unit'>>): Promise<void>;
  rssMb(procs: EngineProcess[]): number;
  notes: string[];
}

/** The plugin's own binary inside its rootfs: its processes are the plugin's, not the engine's. */
const PLUGIN_ARGV0 = '/volume-plugin';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test plugin as an allow-all authorization plugin (docker.authz/1.0). */
function authzPluginConfig(): Record<string, unknown> {
  return {
    ...volumePluginConfig('authz.sock'),
    description: 'drydock bench allow-all authorization plugin',
    entrypoint: ['/volume-plugin', '--socket', '/run/docker/plugins/authz.sock', '--dir', '/data', '--authz', 'allow'],
    interface: { types: ['docker.authz/1.0'], socket: 'authz.sock' },
  };
}

/** Every process of an engine: its daemons, their descendants, and its shims with theirs (shims are reparented to init). */
function enginePids(e: Engine): Set<number> {
  const roots = [...e.daemons(), ...e.perContainer()].map((p) => p.pid);
  return new Set([...roots, ...descendantsOf(roots)]);
}

const role = (pid: number) => (argvOf(pid)[0] ?? '').split('/').pop() || String(pid);

export async function pluginWorkloads(ctx: PluginBenchContext): Promise<void> {
  const { drydock: dd, docker: dk, engines, cfg, run, alternate, workload, notes } = ctx;
  const both = (m: Map<Engine, number[]>) => ({ drydock: stats(m.get(dd)!), docker: stats(m.get(dk)!) });
  const dir = join(dk.dir, 'plugins');
  const reg = new RegistryProcess({ dir: join(dir, 'registry'), dieWithParent: true });
  await reg.start();
  const volRef = `${reg.host}/bench/volplugin`;
  const authzRef = `${reg.host}/bench/authzplugin`;
  const installed = new Map<Engine, string[]>(engines.map((e) => [e, []]));
  const ids = new Map<string, string>();
  const calls = (e: Engine, ref: string): string[] => {
    const id = ids.get(`${e.name} ${ref}`);
    if (!id) return [];
    const rootfs = e === dd ? dd.pluginRootfs(id) : dk.pluginRootfs(id);
    try {
      return readFileSync(join(rootfs, 'data', 'calls.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const install = async (e: Engine, ref: string) => {
    await run(e, ['plugin', 'install', '--grant-all-permissions', ref], { timeoutMs: 120000 });
    installed.get(e)!.push(ref);
    ids.set(`${e.name} ${ref}`, (await run(e, ['plugin', 'inspect', '-f', '{{.Id}}', ref], { keep: true })).stdout.trim());
  };
  const ps = async (e: Engine) => (await run(e, ['ps'])).ms;
  const authzCalls = (e: Engine) => calls(e, authzRef).filter((l) => l.startsWith('AuthZPlugin.AuthZReq')).length;
  /** Whether a `ps` now goes through the authorization plugin, within `ms`. */
  const authzIs = async (e: Engine, on: boolean, ms = 15000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const n = authzCalls(e);
      await ps(e).catch(() => undefined);
      if (authzCalls(e) > n === on) return;
      if (Date.now() > deadline) throw new Error(`${e.name}: the authorization plugin is still ${on ? 'not ' : ''}asked after ${ms} ms`);
      await sleep(200);
    }
  };
  let dockerAuthz = false;
  let drydockAuthz = false;
  try {
    // What an engine keeps per running plugin: processes that came with the install, the plugin's own excluded.
    await workload("resident memory an engine keeps per running plugin (the plugin's own processes excluded)", 'MB', async () => {
      // the setup is in a workload: when it fails, every plugin row is "not measured" and the other groups' results stay
      const bin = buildVolumePlugin(join(dir, 'bin'));
      await pushPluginImage(reg.url, 'bench/volplugin', 'latest', await buildVolumePluginImage(bin));
      await pushPluginImage(reg.url, 'bench/authzplugin', 'latest', await buildVolumePluginImage(bin, authzPluginConfig()));
      const m = new Map<Engine, number[]>();
      for (const e of engines) {
        const before = enginePids(e);
        await install(e, volRef);
        await sleep(2000);
        const added = [...enginePids(e)].filter((p) => !before.has(p));
        const own = new Set(added.filter((p) => argvOf(p)[0] === PLUGIN_ARGV0));
        for (const p of descendantsOf([...own])) own.add(p);
        const engine = added.filter((p) => !own.has(p)).map((pid) => ({ role: role(pid), pid }));
        const pluginMb = ctx.rssMb([...own].map((pid) => ({ role: 'plugin', pid })));
        const mb = ctx.rssMb(engine);
        notes.push(`${e.name}, one running managed plugin: ${engine.map((p) => `${p.role} (${ctx.rssMb([p]).toFixed(1)} MB)`).join(' + ') || 'no process'} kept by the engine; the plugin itself ${pluginMb.toFixed(1)} MB`);
        m.set(e, [mb]);
      }
      return both(m);
    });

    const sample = async (e: Engine, vol: string) => {
      const c = (await run(e, ['volume', 'create', '-d', volRef, vol])).ms;
      const r = (await run(e, ['run', '--rm', '--network', 'none', '-v', `${vol}:/data`, 'busybox', 'true'])).ms;
      const d = (await run(e, ['volume', 'rm', vol])).ms;
      return { c, r, d };
    };
    await workload(`\`volume create -d PLUGIN\` + \`run --rm -v VOL:/data busybox true\` + \`volume rm\`, a managed volume plugin`, 'ms', async () => {
      for (const e of engines) if (!installed.get(e)!.includes(volRef)) throw new Error(`the volume plugin is not installed on ${e.name}`);
      await alternate('warm-up', engines, cfg.warmups, async (e, i) => {
        const s = await sample(e, `bpw${i}`);
        return s.c + s.r + s.d;
      });
      const parts = new Map<Engine, { c: number[]; r: number[]; d: number[] }>(engines.map((e) => [e, { c: [], r: [], d: [] }]));
      const m = await alternate('plugin volume', engines, cfg.pluginRuns, async (e, i) => {
        const s = await sample(e, `bpv${i}`);
        const p = parts.get(e)!;
        p.c.push(s.c);
        p.r.push(s.r);
        p.d.push(s.d);
        return s.c + s.r + s.d;
      });
      // the plugin really served the volume on each engine (a run that skipped Mount would flatter it)
      for (const e of engines) if (!calls(e, volRef).some((l) => l.startsWith('Mount bpv0 '))) throw new Error(`${e.name}: the volume plugin saw no Mount of bpv0`);
      const med = (xs: number[]) => stats(xs)!.median.toFixed(0);
      for (const e of engines) {
        const p = parts.get(e)!;
        notes.push(`${e.name}, plugin volume, medians of ${p.c.length}: volume create ${med(p.c)} ms, run -v ${med(p.r)} ms, volume rm ${med(p.d)} ms`);
      }
      return { ...both(m), target: 'Drydock <= Docker' };
    });

    // Authorization: `ps` without the plugin, then with it (Drydock: gateway restarted with DRYDOCK_GATEWAY_AUTHZ_PLUGINS;
    // dockerd: authorization-plugins in daemon.json, reloaded on SIGHUP): the same plugin installed on both all along.
    let without: Map<Engine, number[]> | undefined;
    let withAuthz: Map<Engine, number[]> | undefined;
    await workload('`ps` (no containers), no authorization plugin', 'ms', async () => {
      for (const e of engines) await install(e, authzRef);
      await alternate('warm-up', engines, cfg.warmups, ps);
      without = await alternate('ps, no authz', engines, cfg.authzRuns, ps);
      return both(without);
    });
    await workload('`ps` (no containers), an allow-all managed authorization plugin', 'ms', async () => {
      const name = (e: Engine) => run(e, ['plugin', 'inspect', '-f', '{{.Name}}', authzRef], { keep: true }).then((r) => r.stdout.trim());
      drydockAuthz = true;
      await dd.restartGateway({ DRYDOCK_GATEWAY_AUTHZ_PLUGINS: await name(dd) });
      dockerAuthz = true;
      dk.reload({ 'authorization-plugins': [await name(dk)] });
      for (const e of engines) await authzIs(e, true);
      await alternate('warm-up', engines, cfg.warmups, ps);
      const asked0 = new Map(engines.map((e) => [e, authzCalls(e)]));
      withAuthz = await alternate('ps, authz', engines, cfg.authzRuns, ps);
      for (const e of engines) notes.push(`${e.name}: ${((authzCalls(e) - asked0.get(e)!) / Math.max(cfg.authzRuns, 1)).toFixed(1)} AuthZReq calls per \`ps\` (the CLI's /_ping and /containers/json), each followed by an AuthZRes`);
      return both(withAuthz);
    });
    if (without && withAuthz) {
      const added = (e: Engine) => stats(withAuthz!.get(e)!)!.median - stats(without!.get(e)!)!.median;
      await workload('cost the authorization plugin adds to `ps` (median with it − median without)', 'ms', async () => ({
        drydock: stats([added(dd)]),
        docker: stats([added(dk)]),
      }));
      notes.push(`authorization plugin: the same managed plugin on both (the test plugin with --authz allow: one forked process per connection, Connection: close); \`ps\` without it measured first, then with it after Drydock's gateway restart / dockerd's SIGHUP reload and ${cfg.warmups} warm-up runs.`);
    }
  } finally {
    // back to no authorization first: with a plugin configured, removing it would deny every request
    if (dockerAuthz) dk.reload({});
    if (drydockAuthz) await dd.restartGateway({}).catch((err) => notes.push(`gateway restart without authz failed: ${(err as Error).message}`));
    if (dockerAuthz) await authzIs(dk, false).catch((err) => notes.push((err as Error).message));
    for (const e of engines) {
      for (const v of (await run(e, ['volume', 'ls', '-q'], { keep: true }).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean)) await run(e, ['volume', 'rm', '-f', v]).catch(() => undefined);
      for (const ref of installed.get(e)!) await run(e, ['plugin', 'rm', '-f', ref]).catch((err) => notes.push(`${e.name}: plugin rm -f ${ref} failed: ${(err as Error).message}`));
    }
    await reg.stop();
  }
}
