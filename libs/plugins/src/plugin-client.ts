import { performance } from 'node:perf_hooks';
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DeadlineExceededError, InternalError, UnavailableError } from '@drydock/errors';

/** The media type dockerd sends (pkg/plugins/transport), although the docs say v1+json. */
export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/** A plugin answer larger than this is refused: a plugin cannot make the supervisor hold it. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface PluginAddress {
  /** Name for messages and logs. */
  name: string;
  socket?: string;
  /** http://, https:// or tcp:// (plain HTTP) base address. */
  url?: string;
}

export interface PluginClientOptions {
  /**
   * How long connection failures (no socket yet, refused) are retried, with dockerd's backoff
   * (1 s, 2 s, 4 s, ...), within each call's own deadline. dockerd: 30 s.
   */
  connectRetryMs: number;
}

/**
 * The plugin answered with an HTTP error. Its text is dockerd's statusError: "Method: Err" with
 * the `{"Err": ...}` body's message, else the raw body.
 */
export class PluginCallError extends InternalError {
  constructor(
    readonly method: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${method}: ${detail}`);
  }
}

/** A socket that cannot be reached is worth retrying (a plugin starting or restarting). */
function isConnectError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ENOTSOCK';
}

/**
 * JSON over HTTP to one plugin (dockerd's pkg/plugins.Client): every call is a POST of a JSON
 * body to /<Method> and has a deadline covering connecting, retries and the whole answer. A
 * call never outlives its deadline, so a stuck plugin holds only the callers that need it.
 */
export class PluginClient {
  constructor(
    readonly address: PluginAddress,
    private readonly opts: PluginClientOptions,
  ) {}

  /** POSTs `args` to /`method` and decodes the JSON answer (undefined for an empty body). */
  async call<T>(method: string, args: unknown, deadlineMs: number): Promise<T> {
    const body = args === undefined || args === null ? '' : `${JSON.stringify(args)}\n`;
    const deadline = performance.now() + deadlineMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), deadlineMs);
    try {
      for (let retries = 0; ; retries++) {
        try {
          return await this.once<T>(method, body, ac.signal);
        } catch (err) {
          if (ac.signal.aborted) throw this.deadlineError(method, deadlineMs);
          if (!isConnectError(err)) throw err;
          const wait = Math.min(2 ** retries, 30) * 1000;
          // dockerd's abort(): stop once the next wait would pass the retry window
          const spent = deadlineMs - (deadline - performance.now());
          if (spent + wait >= this.opts.connectRetryMs || performance.now() + wait >= deadline) throw this.connectError(method, err);
          await new Promise<void>((r) => {
            const t = setTimeout(r, wait);
            ac.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
          });
          if (ac.signal.aborted) throw this.deadlineError(method, deadlineMs);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private once<T>(method: string, body: string, signal: AbortSignal): Promise<T> {
    const headers = { Accept: PLUGIN_MEDIA_TYPE, 'Content-Type': PLUGIN_MEDIA_TYPE, 'Content-Length': String(Buffer.byteLength(body)) };
    return new Promise<T>((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            reject(new InternalError(`${method}: plugin response larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            let detail = text;
            try {
              const e = JSON.parse(text) as { Err?: unknown };
              if (typeof e?.Err === 'string' && e.Err !== '') detail = e.Err;
            } catch {
              // the old way: the body is the message
            }
            reject(new PluginCallError(method, status, detail.trim()));
            return;
          }
          if (text.trim() === '') return resolve(undefined as T);
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(new InternalError(`${method}: error reading plugin response: ${(err as Error).message}`));
          }
        });
      };
      const a = this.address;
      let req;
      if (a.socket) {
        req = request({ socketPath: a.socket, method: 'POST', path: `/${method}`, host: 'plugin', headers, signal, agent: false }, onResponse);
      } else {
        const u = new URL(a.url!.replace(/^tcp:/, 'http:'));
        const fn = u.protocol === 'https:' ? httpsRequest : request;
        // dockerd's legacy spec files skip certificate checks unless a CA is given (not supported here)
        req = fn({ protocol: u.protocol, hostname: u.hostname, port: u.port, method: 'POST', path: `${u.pathname.replace(/\/$/, '')}/${method}`, headers, signal, agent: false, rejectUnauthorized: false }, onResponse);
      }
      req.on('error', reject);
      req.end(body);
    });
  }

  private deadlineError(method: string, ms: number): DeadlineExceededError {
    return new DeadlineExceededError(`${method}: context deadline exceeded: plugin "${this.address.name}" did not answer within ${formatMs(ms)}`);
  }

  private connectError(method: string, err: unknown): UnavailableError {
    const where = this.address.socket ? `dial unix ${this.address.socket}` : `dial ${this.address.url}`;
    return new UnavailableError(`${method}: ${where}: ${(err as Error).message}`, { cause: err });
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
