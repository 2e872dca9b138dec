import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a fake plugin answers to one call: JSON (status 200 unless given), raw text, or never. */
export type Answer = { status?: number; json?: unknown; raw?: string } | 'hang';

export interface SeenCall {
  method: string;
  body: unknown;
  headers: IncomingMessage['headers'];
}

/** A plugin on a unix socket in a private directory, answering from a table (tests only). */
export class FakePlugin {
  readonly calls: SeenCall[] = [];
  private server?: Server;
  private readonly hung: ServerResponse[] = [];

  constructor(
    readonly socket: string,
    public answers: Record<string, Answer | ((body: any) => Answer)>,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const method = (req.url ?? '').slice(1);
        const text = Buffer.concat(chunks).toString();
        const body = text ? JSON.parse(text) : undefined;
        this.calls.push({ method, body, headers: req.headers });
        const a0 = this.answers[method];
        const a = typeof a0 === 'function' ? a0(body) : a0;
        if (a === 'hang') return void this.hung.push(res);
        if (!a) return void res.writeHead(404).end('404 page not found\n');
        res.writeHead(a.status ?? 200, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
        res.end(a.raw ?? JSON.stringify(a.json));
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.socket, r));
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.hung.splice(0)) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** A private temp directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `pvol-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
