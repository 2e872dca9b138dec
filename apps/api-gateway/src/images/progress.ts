import type { ServerResponse } from 'node:http';
import { findDrydockError } from '@drydock/errors';
import type { supervisorV1 } from '@drydock/proto';
import { drained } from '../http/drain';

/**
 * Docker's JSON progress streams (pull, push): moby's streamformatter writing
 * jsonmessage.JSONMessage values, one per line, each followed by "\r\n".
 */

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSize: decimal units, 4 significant digits, trailing zeros dropped ("32.77kB", "3.001MB", "2MB"). */
export function humanSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  // Go's %.4g: at most 4 significant digits, no trailing zeros
  return `${Number(size.toPrecision(4))}${DECIMAL_UNITS[i]}`;
}

/**
 * jsonmessage.JSONProgress.String() as dockerd renders it for the wire: the
 * daemon has no terminal, so the width is 200 (bar shown), and it never sets
 * `start`, so there is no time-left suffix. Empty when there are no bytes.
 */
export function progressText(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  const cur = humanSize(current).padStart(8);
  if (total <= 0) return cur;
  const percentage = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  return bar + (current > total ? cur : `${cur}/${humanSize(total)}`);
}

/**
 * Go's json.Marshal escapes <, > and & (HTML safety) and U+2028/U+2029; the
 * CLI does not care, but byte-for-byte equal lines make comparisons with
 * dockerd trivial ("[=>   ]" is `[=\u003e   ]` on the wire).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One ImageProgress -> one line of dockerd's stream. dockerd writes two kinds:
 * progress.Message ("Pulling from", "Digest:", "Status:", "The push refers to
 * repository", "<tag>: digest: ... size: N") as {"status","id"} without
 * progressDetail, and progress.Update (every per-layer status) with
 * "progressDetail" ({} without bytes) and "progress" when there are bytes.
 * Messages are the ones without a layer id, plus "Pulling from" (whose id is the tag).
 */
export function progressLine(p: supervisorV1.ImageProgress): string {
  const id = p.id ?? '';
  const status = p.status ?? '';
  const current = Number(p.current ?? 0);
  const total = Number(p.total ?? 0);
  const msg: Record<string, unknown> = {};
  if (status) msg.status = status;
  const isMessage = !p.aux && current <= 0 && total <= 0 && (id === '' || status.startsWith('Pulling from '));
  if (!isMessage) {
    const detail: Record<string, number> = {};
    if (current) detail.current = current;
    if (total) detail.total = total;
    msg.progressDetail = detail;
    const text = progressText(current, total);
    if (text) msg.progress = text;
  }
  if (id) msg.id = id;
  if (p.aux) msg.aux = { Tag: p.aux.tag ?? '', Digest: p.aux.digest ?? '', Size: Number(p.aux.size ?? 0) };
  return goJson(msg) + '\r\n';
}

/** streamformatter.FormatError: how a failure after the 200 reaches the client (the CLI prints `message` and exits 1). */
export function errorLine(message: string): string {
  return goJson({ errorDetail: { message }, error: message }) + '\r\n';
}

/**
 * Relays a progress stream as dockerd does. The first message (or the
 * failure) is awaited before the 200 header goes out, so that errors found
 * before any progress (unknown manifest, denied, bad reference) are plain HTTP
 * errors with their status: the caller's error mapping handles a rejection.
 * Later failures become a final errorDetail line. Back-pressure: the next
 * message is read only once the client took the previous one.
 * `signal` aborts when the client goes away; the source must stop then (the
 * route cancels its gRPC call) and nothing more is written.
 */
export async function writeProgressStream(res: ServerResponse, messages: AsyncIterable<supervisorV1.ImageProgress>, signal: AbortSignal): Promise<void> {
  const it = messages[Symbol.asyncIterator]();
  const first = await it.next();
  res.writeHead(200, { 'Content-Type': 'application/json' });
  try {
    for (let r = first; !r.done; r = await it.next()) {
      if (signal.aborted) break;
      if (!res.write(progressLine(r.value))) await drained(res, signal);
    }
  } catch (err) {
    if (signal.aborted) return void res.destroy();
    res.write(errorLine(findDrydockError(err)?.message ?? (err instanceof Error ? err.message : String(err))));
  } finally {
    await it.return?.();
  }
  if (signal.aborted) res.destroy();
  else res.end();
}
