// Small helpers shared by the end-to-end specs.
import { request } from 'node:http';
import { waitFor } from '@drydock/infra';
import type { CliResult } from './stack';

/** How `docker ps` renders a recent time ("Up 2 seconds", "Exited (3) Less than a second ago"). */
export const RECENT = '(Less than a second|\\d+ seconds?|About a minute)';

/** A 64-hex container or image id. */
export const FULL_ID = /^[0-9a-f]{64}$/;

/** Polls `fn` until `accept` holds for its result; returns that result (the last one in the error otherwise). */
export async function eventually<T>(fn: () => Promise<T>, accept: (v: T) => boolean, timeoutMs = 20000, what = 'condition'): Promise<T> {
  let last: T | undefined;
  try {
    await waitFor(async () => accept((last = await fn())), timeoutMs, what, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last value: ${JSON.stringify(last)}`);
  }
  return last as T;
}

/** The result with only the fields a test compares, for readable failure diffs. */
export function out(r: CliResult): { code: number | null; stdout: string; stderr: string } {
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** GET http://<host>:<port>/ from the host (published ports): the body, or `error: <code>`. */
export function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.end();
  });
}
