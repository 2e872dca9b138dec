import { Metadata, type ClientWritableStream } from '@grpc/grpc-js';
import { fromGrpcError, toHttpError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import type { SupervisorClient } from '../backend/supervisor-client';
import { writeDrained } from '../http/drain';
import { pumpBody } from '../http/upload';
import { boolParam } from '../http/query';
import type { Ctx, Router } from '../http/router';
import type { RouteDeps } from './deps';

/**
 * docker save (GET /images/get?names=..., GET /images/{name}/get) and docker
 * load (POST /images/load). Both stream: the archive is relayed chunk by chunk
 * from the supervisor, the upload to it.
 */
export function registerImageArchiveRoutes(router: Router, deps: Pick<RouteDeps, 'nodes'>): void {
  router.on('GET', '/images/get', (ctx) => exportImages(ctx, deps.nodes.local(), ctx.query.getAll('names')));
  router.on('POST', '/images/load', (ctx) => loadImages(ctx, deps.nodes.local()));
}

/**
 * Streams the archive of `names`. Until the first chunk nothing is sent, so a
 * bad name is a plain HTTP error (404 "No such image: x"). A failure after that
 * is written into the body as dockerd does (FormatError), then the connection
 * is cut so the client cannot take the archive for complete.
 */
export async function exportImages(ctx: Ctx, s: SupervisorClient, names: string[]): Promise<void> {
  // no deadline: a save takes as long as the archive; the client's disconnect cancels it
  const call = s.images.exportImages({ refs: names }, new Metadata());
  const cancel = () => call.cancel();
  ctx.signal.addEventListener('abort', cancel, { once: true });
  try {
    for await (const m of call as AsyncIterable<supervisorV1.ArchiveChunk>) {
      if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      if (m.data && m.data.length > 0) await writeDrained(ctx.res, m.data, ctx.signal);
      if (ctx.signal.aborted) return;
    }
    if (!ctx.res.headersSent) ctx.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    ctx.res.end();
  } catch (err) {
    if (ctx.signal.aborted) return;
    const e = fromGrpcError(err);
    if (!ctx.res.headersSent) throw e;
    const { message, classified } = toHttpError(e);
    if (!classified) ctx.log.error({ err: e }, 'image export failed');
    ctx.res.write(JSON.stringify({ errorDetail: { message }, error: message }) + '\r\n');
    ctx.res.destroy();
  } finally {
    ctx.signal.removeEventListener('abort', cancel);
    call.cancel();
  }
}

/**
 * docker load: the body (a tar, plain or gzip) goes to the supervisor as it
 * arrives. dockerd answers 200 whatever happens and reports a failure as an
 * error message in the JSON stream; so does this. quiet defaults to true.
 * The "Loading layer" progress of a non-quiet load is not produced: the
 * supervisor answers once the whole archive is checked and stored.
 */
async function loadImages(ctx: Ctx, s: SupervisorClient): Promise<void> {
  const quiet = ctx.query.has('quiet') ? boolParam(ctx.query, 'quiet') : true;
  let call!: ClientWritableStream<supervisorV1.LoadImagesRequest>;
  const done = new Promise<supervisorV1.LoadImagesResponse>((resolve, reject) => {
    call = s.images.loadImages(new Metadata(), {}, (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res)));
  });
  done.catch(() => undefined);
  const cancel = () => call.cancel();
  ctx.signal.addEventListener('abort', cancel, { once: true });
  let lines: string[];
  try {
    call.write({ header: { quiet } });
    // dockerd answers a failed load with 200 and an error line: the rest of the upload is
    // read and dropped so that answer can still go back on this connection
    await pumpBody(ctx.req, call, done, 'drain');
    call.end();
    lines = jsonLines((await done).loaded ?? []);
  } catch (err) {
    if (ctx.signal.aborted) return;
    const { message, classified } = toHttpError(err);
    if (!classified) ctx.log.error({ err }, 'image load failed');
    lines = [JSON.stringify({ errorDetail: { message }, error: message })];
  } finally {
    ctx.signal.removeEventListener('abort', cancel);
  }
  const body = lines.map((l) => l + '\r\n').join('');
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  ctx.res.end(body);
}

/**
 * dockerd's messages: one per tag line, and the "Loaded image ID" lines of an
 * untagged load in a single message; nothing loaded is one empty message.
 */
export function jsonLines(loaded: string[]): string[] {
  const out: string[] = [];
  let ids = '';
  for (const l of loaded) {
    if (l.startsWith('Loaded image ID: ')) ids += l + '\n';
    else out.push(JSON.stringify({ stream: l + '\n' }));
  }
  if (ids) out.push(JSON.stringify({ stream: ids }));
  if (out.length === 0) out.push('{}');
  return out;
}
