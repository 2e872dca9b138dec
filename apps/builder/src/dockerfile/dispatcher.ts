import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { extract } from 'tar-stream';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, NotFoundError } from '@drydock/errors';
import {
  cleanPath,
  goQuoteSlice,
  parseDockerfile,
  parseExposedPorts,
  parseGroup,
  parsePasswd,
  parseSignal,
  processWord,
  processWords,
  type ImageConfig,
  type ImageRunConfig,
} from '@drydock/oci-spec';
import type { BuildBackend, ImageInfo, ImagePath, StepHostOptions } from '../backend/ports';
import { ImageProber } from '../cache/image-cache';
import type { BuildContext } from '../context/build-context';
import { BuildArgs } from './build-args';
import { calcCopyInfo, contextTree, localTree, sourceHash, type CopyInfo, type SourceTree } from './copy-sources';
import { copyLayerTar, planCopy } from './copy-layer';
import { goList, goQuoteHealth } from './go-format';
import { parseCommand, type Instruction, type Stage } from './instructions';
import { shortId, type StepOutput } from './output';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A Dockerfile step failed in a way dockerd reports with a code (a RUN's exit status). */
export class StepError extends InvalidArgumentError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class BuildCancelledError extends Error {
  constructor() {
    super('Build cancelled');
  }
}

export interface BuildSettings {
  buildId: string;
  noCache: boolean;
  pull: boolean;
  remove: boolean;
  forceRemove: boolean;
  cacheFrom: string[];
  platform: string;
  host: StepHostOptions;
  /** X-Registry-Config: auth configs by registry. */
  authConfigs: Record<string, Record<string, unknown>>;
  /** Scratch space of this build (COPY --from trees, downloads). */
  workDir: string;
  /** Labels on every image the build makes (its metadata, not its config). */
  imageLabels: Record<string, string>;
}

/** The finished stages a later stage can name (FROM <stage>, COPY --from). */
export class StageResults {
  private readonly flat: (Promise<string> | undefined)[] = [];
  private readonly named = new Map<string, number>();

  register(index: number, name: string, result: Promise<string>): void {
    this.flat[index] = result;
    if (name) this.named.set(name.toLowerCase(), index);
  }

  /** The image of a stage by name, or (for COPY --from) by index; undefined when it names no stage. */
  get(nameOrIndex: string, current: number, byIndex: boolean): Promise<string> | undefined {
    const i = this.named.get(nameOrIndex.toLowerCase());
    if (i !== undefined && i < current) return this.flat[i];
    if (!byIndex || !/^[+-]?\d+$/.test(nameOrIndex)) return undefined;
    const ix = Number(nameOrIndex);
    if (ix === current) throw new InvalidArgumentError('refers to current build stage');
    if (ix < 0 || ix > current) throw new InvalidArgumentError('index out of bounds');
    return this.flat[ix];
  }
}

interface State {
  runConfig: ImageRunConfig;
  maintainer: string;
  cmdSet: boolean;
  imageId: string;
  buildArgs: BuildArgs;
}

function copyRunConfig(c: ImageRunConfig, mod: Partial<ImageRunConfig> = {}): ImageRunConfig {
  return { ...structuredClone(c), ...mod };
}

function getShell(c: ImageRunConfig): string[] {
  return c.Shell?.length ? [...c.Shell] : [...DEFAULT_SHELL];
}

/** base64url JSON AuthConfig for the registry of `ref`, from the client's X-Registry-Config map. */
export function registryAuthFor(ref: string, configs: Record<string, Record<string, unknown>>): string {
  const first = ref.split('/')[0];
  const host = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
  const keys = host === 'docker.io' ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'] : [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  for (const k of keys) {
    const c = configs[k];
    if (c) return Buffer.from(JSON.stringify(c)).toString('base64url');
  }
  return '';
}

/**
 * One stage of a Dockerfile, dispatched with dockerd 20.10's legacy builder rules (builder/dockerfile:
 * evaluator.go, dispatchers.go, internals.go, copy.go): same run configs, cache keys, history texts and
 * output. The stage's image is the result.
 */
export class StageDispatcher {
  private readonly prober: ImageProber;
  private state!: State;
  private step = 0;

  constructor(
    private readonly backend: BuildBackend,
    private readonly settings: BuildSettings,
    private readonly ctx: BuildContext | undefined,
    private readonly stages: StageResults,
    private readonly out: StepOutput,
    private readonly escapeToken: string,
    private readonly signal: AbortSignal,
  ) {
    this.prober = new ImageProber(backend, settings.cacheFrom, settings.noCache);
  }

  get buildArgs(): BuildArgs {
    return this.state.buildArgs;
  }

  /** Runs the stage; `firstStep` is its FROM's number in `Step n/total`. Returns the stage's image id. */
  async run(stage: Stage, index: number, baseArgs: BuildArgs, firstStep: number, total: number): Promise<string> {
    const args = baseArgs.clone();
    args.resetAllowed();
    this.state = { runConfig: {}, maintainer: '', cmdSet: false, imageId: '', buildArgs: args };
    this.step = firstStep;
    await this.out.stepLine(this.step, total, stage.sourceCode);
    await this.initializeStage(stage, index);
    this.state.runConfig.Image = this.state.imageId;
    await this.out.stepDone(this.step, this.state.imageId);
    for (const cmd of stage.commands) {
      if (this.signal.aborted) {
        await this.out.stdout('Build cancelled\n');
        throw new BuildCancelledError();
      }
      this.step++;
      await this.out.stepLine(this.step, total, cmd.code);
      await this.dispatch(cmd, index);
      this.state.runConfig.Image = this.state.imageId;
      await this.out.stepDone(this.step, this.state.imageId);
    }
    if (this.state.imageId) await this.out.aux(this.step, this.state.imageId);
    return this.state.imageId;
  }

  // ------------------------------------------------------------------ FROM

  private async initializeStage(stage: Stage, index: number): Promise<void> {
    this.prober.reset(stage.commands.length);
    const meta = [...this.state.buildArgs.allMeta()].map(([k, v]) => `${k}=${v}`);
    const expand = (w: string) => {
      try {
        return processWord(w, meta, this.escapeToken);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    };
    let platform = this.settings.platform;
    if (stage.platform) platform = expand(stage.platform);
    const name = expand(stage.baseName);
    if (name === '') throw new InvalidArgumentError(`base name (${stage.baseName}) should not be blank`);
    const image = await this.imageOrStage(name, index, platform);
    this.state.imageId = image?.id ?? '';
    this.state.runConfig = image?.config.config ? copyRunConfig(image.config.config) : {};
    const env = this.state.runConfig.Env ?? [];
    if (!env.some((e) => e.split('=')[0] === 'PATH')) this.state.runConfig.Env = [...env, DEFAULT_PATH];
    this.state.runConfig.OpenStdin = false;
    this.state.runConfig.StdinOnce = false;
    const triggers = this.state.runConfig.OnBuild ?? [];
    if (triggers.length > 0) {
      this.state.runConfig.OnBuild = null;
      this.prober.reset(stage.commands.length + triggers.length);
      await this.out.stdout(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const t of triggers) {
        this.state.runConfig.Image = this.state.imageId;
        const parsed = parseDockerfile(t);
        if (parsed.nodes.length !== 1) throw new InvalidArgumentError('onbuild trigger should be a single expression');
        await this.dispatch(parseCommand(parsed.nodes[0]), index);
      }
    }
  }

  private async imageOrStage(name: string, index: number, platform: string): Promise<ImageInfo | undefined> {
    const stageImage = this.stages.get(name, index, false);
    if (stageImage) {
      const id = await stageImage;
      return id ? this.backend.inspectImage(id) : undefined;
    }
    if (name === 'scratch') return undefined;
    return this.pullOrLocal(name, platform);
  }

  private async pullOrLocal(name: string, platform: string): Promise<ImageInfo> {
    if (!this.settings.pull) {
      const local = await this.backend.inspectImage(name);
      if (local) return local;
    }
    await this.backend.pullImage(name, platform, registryAuthFor(name, this.settings.authConfigs), (m) => this.out.raw(m), this.signal);
    const img = await this.backend.inspectImage(name);
    if (!img) throw new NotFoundError(`No such image: ${name}`);
    return img;
  }

  // ------------------------------------------------------------------ steps

  private envs(): string[] {
    const env = this.state.runConfig.Env ?? [];
    return [...env, ...this.state.buildArgs.filterAllowed(env)];
  }

  private expander(): (w: string) => string {
    const env = this.envs();
    return (w) => {
      try {
        return processWord(w, env, this.escapeToken);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    };
  }

  private async dispatch(cmd: Instruction, stageIndex: number): Promise<void> {
    const x = this.expander();
    const s = this.state;
    const rc = s.runConfig;
    switch (cmd.kind) {
      case 'env': {
        let msg = 'ENV';
        for (const [k0, v0] of cmd.env) {
          const k = x(k0);
          const v = x(v0);
          msg += ` ${k}=${v}`;
          const env = [...(rc.Env ?? [])];
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
          rc.Env = env;
        }
        return this.commit(msg);
      }
      case 'maintainer':
        s.maintainer = cmd.maintainer;
        return this.commit(`MAINTAINER ${cmd.maintainer}`);
      case 'label': {
        let msg = 'LABEL';
        rc.Labels = { ...(rc.Labels ?? {}) };
        for (const [k0, v0] of cmd.labels) {
          const [k, v] = cmd.noExpand ? [k0, v0] : [x(k0), x(v0)];
          rc.Labels[k] = v;
          msg += ` ${k}=${v}`;
        }
        return this.commit(msg);
      }
      case 'add':
      case 'copy': {
        if (cmd.chmod) throw new InvalidArgumentError('the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled');
        const chown = x(cmd.chown);
        const sourcesAndDest = cmd.sourcesAndDest.map(x);
        return this.performCopy(cmd.kind, sourcesAndDest, chown, cmd.kind === 'copy' ? cmd.from : '', stageIndex);
      }
      case 'onbuild':
        rc.OnBuild = [...(rc.OnBuild ?? []), cmd.expression];
        return this.commit(`ONBUILD ${cmd.expression}`);
      case 'workdir':
        return this.workdir(x(cmd.path));
      case 'run':
        return this.runStep(cmd);
      case 'cmd': {
        const c = cmd.prependShell ? [...getShell(rc), ...cmd.cmdLine] : [...cmd.cmdLine];
        rc.Cmd = c;
        delete rc.ArgsEscaped;
        await this.commit(`CMD ${goQuoteSlice(c)}`);
        if (cmd.cmdLine.length !== 0) s.cmdSet = true;
        return;
      }
      case 'healthcheck': {
        const old = rc.Healthcheck?.Test;
        if (old && old.length > 0 && old[0] !== 'NONE') await this.out.stdout(`Note: overriding previous HEALTHCHECK: ${goList(old)}\n`);
        rc.Healthcheck = cmd.health;
        return this.commit(`HEALTHCHECK ${goQuoteHealth(cmd.health)}`);
      }
      case 'entrypoint': {
        const c = cmd.cmdLine === null ? null : cmd.prependShell ? [...getShell(rc), ...cmd.cmdLine] : [...cmd.cmdLine];
        rc.Entrypoint = c;
        delete rc.ArgsEscaped;
        if (!s.cmdSet) rc.Cmd = null;
        return this.commit(`ENTRYPOINT ${goQuoteSlice(c ?? [])}`);
      }
      case 'expose': {
        const env = this.envs();
        const ports: string[] = [];
        for (const p of cmd.ports) {
          try {
            ports.push(...processWords(p, env, this.escapeToken));
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message);
          }
        }
        const exposed = { ...(rc.ExposedPorts ?? {}) };
        for (const p of parseExposedPorts(ports)) exposed[p] = {};
        rc.ExposedPorts = exposed;
        return this.commit(`EXPOSE ${ports.join(' ')}`);
      }
      case 'user':
        rc.User = x(cmd.user);
        return this.commit(`USER ${rc.User}`);
      case 'volume': {
        const vols = { ...(rc.Volumes ?? {}) };
        const list = cmd.volumes.map(x);
        for (const v of list) {
          if (v === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        rc.Volumes = vols;
        return this.commit(`VOLUME ${goList(list)}`);
      }
      case 'stopsignal': {
        const sig = x(cmd.signal);
        parseSignal(sig);
        rc.StopSignal = sig;
        return this.commit(`STOPSIGNAL ${sig}`);
      }
      case 'arg': {
        const parts: string[] = [];
        for (const a of cmd.args) {
          const key = x(a.key);
          const value = a.value === undefined ? undefined : x(a.value);
          parts.push(value === undefined ? key : `${key}=${value}`);
          s.buildArgs.addArg(key, value);
        }
        return this.commit(`ARG ${parts.join(' ')}`);
      }
      case 'shell':
        rc.Shell = [...cmd.shell];
        return this.commit(`SHELL ${goList(rc.Shell)}`);
    }
  }

  /** Cache probe of a step; prints ` ---> Using cache` on a hit. */
  private async probe(cfg: ImageRunConfig): Promise<boolean> {
    const hit = await this.prober.probe(this.state.imageId, cfg);
    if (!hit) return false;
    await this.out.stdout(' ---> Using cache\n');
    this.state.imageId = hit;
    return true;
  }

  private labels(): Record<string, string> {
    return { ...this.settings.imageLabels };
  }

  /**
   * A metadata step (ENV, LABEL, CMD, ...): dockerd creates a container only to commit it unchanged;
   * the commit here needs none. The id it prints (and records in the image's `container` field) is a
   * fresh one, as dockerd's would be.
   */
  private async commit(comment: string, layerDirs?: () => Promise<AsyncIterable<Buffer> | undefined>, oneArgComment = false): Promise<void> {
    const cmd = oneArgComment ? [...getShell(this.state.runConfig), `#(nop) ${comment}`] : [...getShell(this.state.runConfig), '#(nop) ', comment];
    const withComment = copyRunConfig(this.state.runConfig, { Cmd: cmd });
    if (await this.probe(withComment)) return;
    const virtualId = randomBytes(32).toString('hex');
    await this.out.stdout(` ---> Running in ${virtualId.slice(0, 12)}\n`);
    const layer = layerDirs ? await layerDirs() : undefined;
    this.state.imageId = await this.backend.commit(
      { parentImage: this.state.imageId, config: copyRunConfig(this.state.runConfig), containerConfig: withComment, recordedContainer: virtualId, author: this.state.maintainer, labels: this.labels() },
      layer,
    );
    if (this.settings.remove || this.settings.forceRemove) await this.out.stdout(`Removing intermediate container ${virtualId.slice(0, 12)}\n`);
  }

  private async workdir(path: string): Promise<void> {
    const rc = this.state.runConfig;
    if (path === '') throw new InvalidArgumentError('cannot normalize nothing');
    rc.WorkingDir = path.startsWith('/') ? path : cleanPath(`/${rc.WorkingDir ?? ''}/${path}`);
    const wd = rc.WorkingDir;
    // dockerd makes the directory in the step's container: a layer holding it when the image lacks it
    return this.commit(
      `WORKDIR ${wd}`,
      async () => {
        const chain: string[] = [];
        for (let p = cleanPath(wd); p !== '/'; p = p.slice(0, p.lastIndexOf('/')) || '/') chain.unshift(p);
        if (chain.length === 0) return undefined;
        const infos = await this.backend.readImagePaths(this.state.imageId, chain, 0);
        if (infos[infos.length - 1].exists && infos[infos.length - 1].isDir) return undefined;
        const plan = { entries: [], archives: [], parents: chain };
        return copyLayerTar(plan, infos, undefined);
      },
      true,
    );
  }

  private async runStep(cmd: Extract<Instruction, { kind: 'run' }>): Promise<void> {
    if (cmd.flagsUsed.length > 0) throw new InvalidArgumentError(`the --${cmd.flagsUsed[0]} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
    const s = this.state;
    const rc = s.runConfig;
    const cmdFromArgs = cmd.prependShell ? [...getShell(rc), ...cmd.cmdLine] : [...cmd.cmdLine];
    const buildArgs = s.buildArgs.filterAllowed(rc.Env);
    let saveCmd = cmdFromArgs;
    if (buildArgs.length > 0) {
      const kept = buildArgs.filter((e) => s.buildArgs.isReferencedOrNotBuiltin(e.split('=')[0])).sort();
      saveCmd = [`|${kept.length}`, ...kept, ...cmdFromArgs];
    }
    const probeCfg = copyRunConfig(rc, { Cmd: saveCmd });
    delete probeCfg.ArgsEscaped;
    if (saveCmd.length > 0) probeCfg.Entrypoint = null;
    if (await this.probe(probeCfg)) return;
    const runCfg = copyRunConfig(rc, { Cmd: cmdFromArgs, Env: [...(rc.Env ?? []), ...buildArgs], Healthcheck: { Test: ['NONE'] } });
    delete runCfg.ArgsEscaped;
    if (saveCmd.length > 0) runCfg.Entrypoint = [''];
    const created = await this.backend.createContainer(runCfg, this.settings.host, { 'drydock.build.id': this.settings.buildId });
    for (const w of created.warnings) await this.out.stdout(` ---> [Warning] ${w}\n`);
    await this.out.stdout(` ---> Running in ${created.id.slice(0, 12)}\n`);
    let ok = false;
    try {
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const code = await this.backend.runContainer(
        created.id,
        async (stream, data) => {
          const text = decoders[stream].write(data);
          if (text) await (stream === 'stdout' ? this.out.stdout(text) : this.out.stderr(text));
        },
        this.signal,
      );
      if (this.signal.aborted) throw new BuildCancelledError();
      if (code !== 0) throw new StepError(`The command '${cmdFromArgs.join(' ')}' returned a non-zero code: ${code}`, code);
      const goes = this.settings.remove || this.settings.forceRemove;
      s.imageId = await this.backend.commit({ containerId: created.id, config: copyRunConfig(rc), containerConfig: probeCfg, author: s.maintainer, labels: this.labels(), consume: goes });
      ok = true;
    } finally {
      // dockerd keeps a failed step's container unless --force-rm; Drydock leaves nothing behind
      // (silently, so the output stays dockerd's) unless --rm=false asked to keep containers.
      const say = ok ? this.settings.remove || this.settings.forceRemove : this.settings.forceRemove;
      if (this.settings.remove || this.settings.forceRemove) {
        await this.backend.removeContainer(created.id).catch(() => undefined);
        if (say) await this.out.stdout(`Removing intermediate container ${created.id.slice(0, 12)}\n`);
      }
    }
  }

  // ------------------------------------------------------------------ COPY / ADD

  private async performCopy(kind: 'add' | 'copy', args: string[], chown: string, from: string, stageIndex: number): Promise<void> {
    const name = kind.toUpperCase();
    const dest = args[args.length - 1];
    let tree: SourceTree | undefined;
    let fromImage = '';
    const cleanup: string[] = [];
    try {
      if (from) {
        const stageImage = this.stages.get(from, stageIndex, true);
        try {
          fromImage = stageImage ? await stageImage : (await this.pullOrLocal(from, this.settings.platform)).id;
        } catch (err) {
          throw new InvalidArgumentError(`invalid from flag value ${from}: ${(err as Error).message}`, { cause: err });
        }
      } else if (this.ctx) {
        tree = contextTree(this.ctx);
      }
      const infos: CopyInfo[] = [];
      try {
        for (const src of args.slice(0, -1)) {
          if (/^https?:\/\//.test(src)) {
            if (kind === 'copy') throw new InvalidArgumentError("source can't be a URL for COPY");
            const dl = await this.download(src, dest, cleanup);
            infos.push(...(await calcCopyInfo(dl.tree, dl.name, false)).map((i) => ({ ...i, noDecompress: true })));
            continue;
          }
          let t = tree;
          if (from) t = await this.imageTree(fromImage, src, cleanup);
          if (!t) throw new InvalidArgumentError('missing build context');
          infos.push(...(await calcCopyInfo(t, src)));
        }
        if (infos.length === 0) throw new InvalidArgumentError('no source files were specified');
      } catch (err) {
        throw new InvalidArgumentError(`${name} failed: ${(err as Error).message}`, { cause: err });
      }
      if (infos.length > 1 && !dest.endsWith('/')) throw new InvalidArgumentError(`When using ${name} with more than one source file, the destination must be a directory and end with a /`);
      const srcHash = sourceHash(infos);
      const rc = this.state.runConfig;
      const comment = `${name} ${chown ? `--chown=${chown} ` : ''}${srcHash} in ${dest} `;
      const withComment = copyRunConfig(rc, { Cmd: [...getShell(rc), `#(nop) ${comment}`] });
      if (await this.probe(withComment)) return;
      const destPath = normalizeDest(rc.WorkingDir ?? '', dest);
      const [destInfo] = await this.backend.readImagePaths(this.state.imageId, [destPath], 0);
      const preserve = !!from && !chown;
      const identity = preserve ? undefined : chown ? await this.chownIdentity(chown) : { uid: 0, gid: 0 };
      const plan = await planCopy({ infos, dest: destPath, destInfo, identity, decompress: kind === 'add' });
      const parents = plan.parents.length ? await this.backend.readImagePaths(this.state.imageId, plan.parents, 0) : [];
      this.state.imageId = await this.backend.commit(
        { parentImage: this.state.imageId, config: copyRunConfig(rc), containerConfig: withComment, author: this.state.maintainer, labels: this.labels() },
        copyLayerTar(plan, parents, identity),
      );
    } finally {
      for (const d of cleanup) await rm(d, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** parseChownFlag: names looked up in the image's /etc/passwd and /etc/group, numbers taken as they are. */
  private async chownIdentity(chown: string): Promise<{ uid: number; gid: number }> {
    const parts = chown.split(':');
    const fail = (m: string) => new InvalidArgumentError(`unable to convert uid/gid chown string to host mapping: ${m}`);
    if (parts.length > 2) throw fail(`invalid chown string format: ${chown}`);
    const [user, group] = parts.length === 1 ? [parts[0], parts[0]] : parts;
    const num = (v: string) => (/^[+-]?\d+$/.test(v) ? Number(v) : undefined);
    let files: ImagePath[] | undefined;
    const read = async () => (files ??= await this.backend.readImagePaths(this.state.imageId, ['/etc/passwd', '/etc/group'], 4 * 1024 * 1024));
    let uid = num(user);
    if (uid === undefined) {
      const passwd = (await read())[0];
      if (!passwd.exists) throw fail(`can't find uid for user ${user}: open /etc/passwd: no such file or directory`);
      const e = parsePasswd(passwd.content?.toString('utf8')).find((u) => u.name === user);
      if (!e) throw fail(`can't find uid for user ${user}: no such user: ${user}`);
      uid = e.uid;
    }
    let gid = num(group);
    if (gid === undefined) {
      const g = (await read())[1];
      if (!g.exists) throw fail(`can't find gid for group ${group}: open /etc/group: no such file or directory`);
      const e = parseGroup(g.content?.toString('utf8')).find((x) => x.name === group);
      if (!e) throw fail(`can't find gid for group ${group}: no such group: ${group}`);
      gid = e.gid;
    }
    return { uid, gid };
  }

  /** The part of an image a COPY --from reads, fetched into the build's scratch space. */
  private async imageTree(imageId: string, src: string, cleanup: string[]): Promise<SourceTree> {
    const dir = join(this.settings.workDir, `from-${randomBytes(6).toString('hex')}`);
    cleanup.push(dir);
    await mkdir(dir, { recursive: true });
    // the path up to the first wildcard: its tree holds every match
    const parts = src.replace(/^\.?\//, '').split('/');
    const fixed: string[] = [];
    for (const p of parts) {
      if (/[*?[]/.test(p)) break;
      fixed.push(p);
    }
    const top = '/' + fixed.join('/');
    const parent = top === '/' ? '' : top.slice(0, top.lastIndexOf('/'));
    const tar = await this.backend.imagePathTar(imageId, top, this.signal);
    if (tar.exists) {
      const into = join(dir, parent);
      await mkdir(into, { recursive: true });
      await extractTree(tar.chunks, into, top === '/');
    }
    return localTree(dir);
  }

  /** ADD <url>: downloaded into the build's scratch space (dockerd keeps it 0600, its mtime from Last-Modified). */
  private async download(url: string, dest: string, cleanup: string[]): Promise<{ tree: SourceTree; name: string }> {
    const res = await fetch(url, { signal: this.signal }).catch((err: Error) => {
      throw new InvalidArgumentError(`Get ${JSON.stringify(url)}: ${err.message}`);
    });
    if (res.status >= 400) throw new InvalidArgumentError(`failed to GET ${url} with status ${res.status} ${res.statusText}: ${(await res.text().catch(() => '')).trim()}`);
    const u = new URL(url);
    let name = u.pathname.endsWith('/') ? '' : decodeURIComponent(u.pathname.split('/').pop() ?? '');
    if (!name) {
      const cd = res.headers.get('content-disposition') ?? '';
      name = /filename="?([^";]+)"?/.exec(cd)?.[1]?.split('/').pop() ?? '';
    }
    if (!name) {
      if (dest.endsWith('/')) throw new InvalidArgumentError(`cannot determine filename for source ${url}`);
      name = '__unnamed__';
    }
    const dir = join(this.settings.workDir, `download-${randomBytes(6).toString('hex')}`);
    cleanup.push(dir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, name);
    const total = Number(res.headers.get('content-length') ?? 0);
    let current = 0;
    const body = res.body ? (res.body as unknown as AsyncIterable<Uint8Array>) : [];
    const w = createWriteStream(file, { mode: 0o600 });
    for await (const chunk of body) {
      current += chunk.length;
      if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await this.out.raw({ status: 'Downloading', progressDetail: { current, total: total || current } });
    await this.out.stdout('\n');
    const lm = res.headers.get('last-modified');
    const t = lm ? new Date(lm) : new Date(0);
    const { utimes } = await import('node:fs/promises');
    await utimes(file, t, t);
    return { tree: localTree(dir), name };
  }
}

/** normalizeDest (unix): a relative destination is taken from the WORKDIR, a trailing slash is kept. */
export function normalizeDest(workingDir: string, requested: string): string {
  if (requested.startsWith('/')) return requested;
  const slash = requested.endsWith('/');
  const joined = cleanPath(`/${workingDir}/${requested}`);
  return slash && joined !== '/' ? joined + '/' : joined;
}

/** Extracts a docker-cp style tar (named by the path's base name) under `into`; `stripRoot` for "/". */
async function extractTree(chunks: AsyncIterable<Buffer>, into: string, stripRoot: boolean): Promise<void> {
  const { mkdir: mk, symlink, lchown, chmod, lutimes } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const ex = extract();
  const consume = (async () => {
    for await (const e of ex) {
      const h = e.header;
      let name = h.name.replace(/^\/+/, '');
      if (stripRoot) name = name.split('/').slice(1).join('/');
      if (name.split('/').includes('..')) {
        e.resume();
        continue;
      }
      const target = join(into, name);
      await mk(dirname(target), { recursive: true });
      if (h.type === 'directory') {
        await mk(target, { recursive: true });
        e.resume();
      } else if (h.type === 'symlink') {
        await rm(target, { force: true, recursive: true });
        await symlink(h.linkname ?? '', target);
        e.resume();
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        await pipeline(e, createWriteStream(target));
      } else {
        e.resume();
        continue;
      }
      if (h.type !== 'symlink') await chmod(target, (h.mode ?? 0o644) & 0o7777);
      await lchown(target, h.uid ?? 0, h.gid ?? 0).catch(() => undefined);
      if (h.mtime) await lutimes(target, h.mtime, h.mtime).catch(() => undefined);
    }
  })();
  const feed = (async () => {
    for await (const c of chunks) if (!ex.write(c)) await new Promise<void>((r) => ex.once('drain', () => r()));
    ex.end(undefined as unknown as Buffer);
  })();
  await Promise.all([consume, feed]);
}

export type { ImageConfig };
