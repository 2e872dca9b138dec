import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import ignore from '@balena/dockerignore';
import { InvalidArgumentError } from '@drydock/errors';
import type { BuildJob } from '@drydock/build-jobs';
import type { Logger } from '@drydock/logging';
import { familiarString, normalizeTagged, parseDockerfile, processWord, type ImageReference, type ParsedDockerfile } from '@drydock/oci-spec';
import type { BuildBackend } from '../backend/ports';
import { BuildContext } from '../context/build-context';
import { BuildArgs } from '../dockerfile/build-args';
import { StageDispatcher, StageResults, type BuildSettings } from '../dockerfile/dispatcher';
import { parseInstructions, type Instruction } from '../dockerfile/instructions';
import { shortId } from '../dockerfile/output';
import type { OrderedOutput } from '../output/ordered-output';

/** Fetches the uploaded context (as uploaded: maybe compressed) into a local file. */
export interface ContextSource {
  download(job: BuildJob, file: string, signal: AbortSignal): Promise<void>;
}

export interface BuildRunnerOptions {
  workRoot: string;
  contextMaxBytes: number;
}

/** sanitizeRepoAndTags: every -t parsed, `:latest` added, duplicates dropped. */
export function buildTags(names: string[]): ImageReference[] {
  const out: ImageReference[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    if (n === '') continue;
    const ref = normalizeTagged(n);
    if (ref.digest) throw new InvalidArgumentError('build tag cannot contain a digest');
    const key = familiarString(ref);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(ref);
    }
  }
  return out;
}

/** dockerignore.ReadAll: comments, blank lines, `!` exceptions, cleaned patterns without a leading slash. */
export function readDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    let invert = false;
    if (p.startsWith('!')) {
      invert = true;
      p = p.slice(1).trim();
    }
    if (p.length > 0) {
      const parts: string[] = [];
      for (const c of p.split('/')) {
        if (c === '' || c === '.') continue;
        if (c === '..' && parts.length && parts[parts.length - 1] !== '..') parts.pop();
        else parts.push(c);
      }
      p = parts.join('/') || '.';
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/**
 * One build from its job: context, Dockerfile, stages (independent ones at once, output in dockerd's
 * order), tags. Throws what dockerd would report; the caller turns it into the stream's last entry.
 */
export class BuildRunner {
  private readonly log: Logger;

  constructor(
    private readonly backend: BuildBackend,
    private readonly contexts: ContextSource,
    private readonly opts: BuildRunnerOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'build-runner' });
  }

  /** `ready`: what must be done before the first step runs (an earlier attempt's containers removed). */
  async run(job: BuildJob, authConfigs: Record<string, Record<string, unknown>>, out: OrderedOutput, signal: AbortSignal, ready: Promise<void> = Promise.resolve()): Promise<string> {
    const o = job.options;
    const tags = buildTags(o.tags);
    const workDir = join(this.opts.workRoot, job.buildId);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    const t0 = Date.now();
    try {
      const tarFile = join(workDir, 'context.tar');
      await this.contexts.download(job, tarFile, signal);
      const tDownload = Date.now() - t0;
      const ctx = await BuildContext.extract(tarFile, join(workDir, 'ctx'), { maxBytes: this.opts.contextMaxBytes });
      await rm(tarFile, { force: true });
      await ready;
      this.log.debug({ buildId: job.buildId, downloadMs: tDownload, extractMs: Date.now() - t0 - tDownload }, 'context ready');
      const dfName = o.dockerfile || 'Dockerfile';
      let text = await ctx.readFile(dfName);
      let usedName = dfName;
      if (text === undefined && dfName === 'Dockerfile' && (await ctx.readFile('dockerfile')) !== undefined) {
        usedName = 'dockerfile';
        text = await ctx.readFile('dockerfile');
      }
      if (text === undefined) throw new Error(`Cannot locate specified Dockerfile: ${dfName}`);
      if (text.length === 0) throw new InvalidArgumentError(`the Dockerfile (${dfName}) cannot be empty`);
      let parsed: ParsedDockerfile;
      try {
        parsed = parseDockerfile(text.toString('utf8'));
      } catch (err) {
        throw new InvalidArgumentError(`failed to parse ${dfName}: ${(err as Error).message}`, { cause: err });
      }
      // removeDockerfile: .dockerignore and the Dockerfile leave the context when .dockerignore names them
      const ign = await ctx.readFile('.dockerignore');
      if (ign !== undefined) {
        const matcher = ignore().add(readDockerignore(ign.toString('utf8')));
        for (const f of ['.dockerignore', usedName]) if (matcher.ignores(f)) await ctx.remove(f);
      }
      const { stages: allStages, metaArgs } = parseInstructions(parsed);
      let stages = allStages;
      if (o.target) {
        const ix = stages.findIndex((s) => s.name.toLowerCase() === o.target.toLowerCase());
        if (ix < 0) throw new InvalidArgumentError(`failed to reach build target ${o.target} in Dockerfile`);
        stages = stages.slice(0, ix + 1);
      }
      if (stages.length === 0) throw new InvalidArgumentError('No image was generated. Is your Dockerfile empty?');
      const last = stages[stages.length - 1];
      for (const k of Object.keys(o.labels).sort()) {
        last.commands.push({ kind: 'label', code: `LABEL ${k}=${o.labels[k]}`, line: 0, labels: [[k, o.labels[k]]], noExpand: true } as Instruction);
      }
      const pre = out.stepOutput(0);
      for (const w of parsed.warnings) await pre.stderr(w + '\n');
      const total = metaArgs.length + stages.length + stages.reduce((n, s) => n + s.commands.length, 0);
      const buildArgs = new BuildArgs(o.buildArgs);
      let step = 0;
      for (const m of metaArgs) {
        step++;
        await pre.stepLine(step, total, m.code);
        const env = [...buildArgs.allAllowed()].map(([k, v]) => `${k}=${v}`);
        for (const a of m.args) {
          const x = (w: string) => {
            try {
              return processWord(w, env, parsed.escapeToken);
            } catch (err) {
              throw new InvalidArgumentError((err as Error).message);
            }
          };
          const key = x(a.key);
          const value = a.value === undefined ? undefined : x(a.value);
          buildArgs.addArg(key, value);
          buildArgs.addMetaArg(key, value);
        }
      }
      await out.close(0);

      const settings: BuildSettings = {
        buildId: job.buildId,
        noCache: o.noCache,
        pull: o.pull,
        remove: o.remove,
        forceRemove: o.forceRemove,
        cacheFrom: o.cacheFrom,
        platform: o.platform,
        host: { networkMode: o.networkMode, memory: o.memory, memorySwap: o.memorySwap, cpuShares: o.cpuShares, cpuPeriod: o.cpuPeriod, cpuQuota: o.cpuQuota, shmSize: o.shmSize, extraHosts: o.extraHosts },
        authConfigs,
        workDir,
        imageLabels: {},
      };
      const names = new Set<string>();
      for (const s of stages) {
        if (s.name && names.has(s.name)) throw new InvalidArgumentError(`${s.name} stage name already used`);
        if (s.name) names.add(s.name);
      }
      // every stage starts at once; one waits for another only where it names it (FROM, COPY --from)
      const results = new StageResults();
      const aborts = stages.map(() => new AbortController());
      const onAbort = () => aborts.forEach((a) => a.abort());
      signal.addEventListener('abort', onAbort, { once: true });
      const firstSteps: number[] = [];
      for (const s of stages) {
        firstSteps.push(step + 1);
        step += 1 + s.commands.length;
      }
      const dispatchers = stages.map((_s, i) => new StageDispatcher(this.backend, settings, ctx, results, out.stepOutput(i + 1), parsed.escapeToken, aborts[i].signal));
      const runs = stages.map((s, i) => {
        const p = dispatchers[i].run(s, i, buildArgs, firstSteps[i], total);
        results.register(i, s.name, p);
        p.catch(() => undefined);
        return p;
      });
      let failure: { index: number; err: unknown } | undefined;
      const settled = runs.map((p, i) =>
        p.then(
          async () => {
            if (!failure || i < failure.index) await out.close(i + 1);
          },
          async (err) => {
            if (!failure || i < failure.index) {
              failure = { index: i, err };
              // dockerd never runs the stages after a failed one: stop them, drop their output
              for (let j = i + 1; j < stages.length; j++) {
                out.discard(j + 1);
                aborts[j].abort();
              }
            }
          },
        ),
      );
      await Promise.all(settled);
      signal.removeEventListener('abort', onAbort);
      if (failure) {
        await out.close(failure.index + 1).catch(() => undefined);
        await out.flush();
        throw failure.err;
      }
      for (const d of dispatchers) buildArgs.mergeReferenced(d.buildArgs);
      const imageId = await runs[runs.length - 1];
      const end = out.stepOutput(stages.length + 1);
      end.step = total + 1;
      const warn = buildArgs.unusedWarning();
      if (warn) await end.stdout(warn);
      if (!imageId) throw new Error('No image was generated. Is your Dockerfile empty?');
      await end.stdout(`Successfully built ${shortId(imageId)}\n`);
      for (const t of tags) {
        await this.backend.tagImage(imageId, t.familiarName, t.tag ?? 'latest');
        await end.stdout(`Successfully tagged ${familiarString(t)}\n`);
      }
      await out.close(stages.length + 1);
      await out.flush();
      this.log.info({ buildId: job.buildId, imageId, stages: stages.length }, 'build finished');
      return imageId;
    } catch (err) {
      await this.removeWorkDir(job);
      throw err;
    }
  }

  /** The build's scratch space (its extracted context): after the build's last entry is out, off the client's time. */
  async removeWorkDir(job: BuildJob): Promise<void> {
    await rm(join(this.opts.workRoot, job.buildId), { recursive: true, force: true }).catch(() => undefined);
  }
}

