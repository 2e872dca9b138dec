import { DrydockError, InternalError, InvalidArgumentError, NotFoundError, UnavailableError } from '@drydock/errors';
import type { OutputEntry } from '@drydock/build-jobs';
import { parseBuildOptions, parseRegistryConfig } from '../build/build-options';
import type { BuildBackend } from '../build/build-service';
import type { ContainerLocator } from '../backend/supervisor-client';
import { FilterArgs } from '../http/query';
import { compareVersions, type Router } from '../http/router';
import { writeDrained } from '../http/drain';
import { goJson } from '../images/progress';

/** An error found before any output, answered as a plain HTTP error with dockerd's status. */
function httpError(status: number, message: string): DrydockError {
  if (status === 400) return new InvalidArgumentError(message);
  if (status === 404) return new NotFoundError(message);
  if (status === 503) return new UnavailableError(message);
  // dockerd answers untyped errors (Cannot locate specified Dockerfile) with a 500
  return new InternalError(message);
}

/** streamformatter.FormatError: `{"errorDetail":{"code","message"},"error"}`. */
function errorDetail(e: Extract<OutputEntry, { kind: 'error' }>): string {
  return goJson({ errorDetail: { ...(e.code ? { code: e.code } : {}), message: e.message }, error: e.message }) + '\r\n';
}

/**
 * POST /build (the legacy builder's protocol): options checked, the context stored, the job queued;
 * then the job's output relayed in dockerd's JSON stream. Errors before the first output are plain HTTP
 * errors, later ones an errorDetail line; a client that goes away cancels the build.
 */
export function registerBuildRoutes(router: Router, builds: BuildBackend, nodes: ContainerLocator): void {
  // docker builder prune: the legacy cache's records (intermediate build images) nothing needs
  router.on('POST', '/build/prune', async (ctx) => {
    FilterArgs.fromJson(ctx.query.get('filters'));
    const all = ['1', 'true', 'yes'].includes((ctx.query.get('all') ?? '').toLowerCase());
    const ks = ctx.query.get('keep-storage') ?? '0';
    if (!/^[+-]?\d+$/.test(ks || '0')) throw new InvalidArgumentError(`keep-storage is in bytes and expects an integer, got ${ks}`);
    const s = nodes.local();
    const res = await s.call(s.images, s.images.buildCache, { prune: true, all }, 10 * 60_000);
    ctx.send(200, { CachesDeleted: (res.deleted ?? []).map((d) => d.replace(/^sha256:/, '')), SpaceReclaimed: Number(res.spaceReclaimed ?? 0) });
  });

  router.on('POST', '/build', async (ctx) => {
    const options = parseBuildOptions(ctx.query, ctx.apiVersion);
    const registryConfig = parseRegistryConfig(ctx.req.headers['x-registry-config'] as string | undefined);
    const buildId = builds.newBuildId();
    const t0 = Date.now();
    const context = await builds.uploadContext(buildId, ctx.req);
    const tUpload = Date.now() - t0;
    if (ctx.signal.aborted) {
      await builds.dropContext(context);
      return;
    }
    await builds.submit({ buildId, context, options, apiVersion: ctx.apiVersion }, registryConfig);
    ctx.log.debug({ buildId, uploadMs: tUpload, submitMs: Date.now() - t0 - tUpload }, 'build submitted');
    let first = true;
    const wantAux = compareVersions(ctx.apiVersion, '1.30') >= 0;
    const cancel = () => void builds.cancel(buildId).catch((err) => ctx.log.warn({ err, buildId }, 'build cancel failed'));
    ctx.signal.addEventListener('abort', cancel, { once: true });
    const quiet: string[] = [];
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
    };
    try {
      for await (const e of builds.output(buildId, ctx.signal)) {
        if (first || e.kind !== 'msg') ctx.log.debug({ buildId, kind: e.kind, ms: Date.now() - t0 }, first ? 'first build output' : 'build output ends');
        first = false;
        if (e.kind === 'msg') {
          if (!wantAux && 'aux' in e.msg) continue;
          const line = goJson(e.msg) + '\r\n';
          if (options.quiet) {
            quiet.push(line);
            continue;
          }
          start();
          await writeDrained(ctx.res, line, ctx.signal);
        } else if (e.kind === 'end') {
          start();
          if (options.quiet) await writeDrained(ctx.res, goJson({ stream: `${e.imageId}\n` }) + '\r\n', ctx.signal);
          break;
        } else {
          if (options.quiet && quiet.length) {
            start();
            for (const l of quiet) await writeDrained(ctx.res, l, ctx.signal);
          }
          if (!started) throw httpError(e.httpStatus, e.message);
          await writeDrained(ctx.res, errorDetail(e), ctx.signal);
          break;
        }
      }
    } finally {
      ctx.signal.removeEventListener('abort', cancel);
    }
    if (ctx.signal.aborted) ctx.res.destroy();
    else {
      start();
      ctx.res.end();
    }
  });
}
