import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort, tcpAccepts, waitFor } from '@drydock/infra';

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A registry-proxy child process (the built main.js) on a free port with its own directory. */
export class ProxyProcess {
  proc?: ChildProcess;
  log = '';
  port = 0;

  constructor(
    private readonly mainJs: string,
    readonly dir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  get cacheDir(): string {
    return join(this.dir, 'cache');
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    const proc = spawn(process.execPath, [this.mainJs], {
      env: { ...process.env, DRYDOCK_REGISTRY_PROXY_LISTEN: this.host, DRYDOCK_REGISTRY_PROXY_DIR: this.dir, DRYDOCK_LOG_LEVEL: 'debug', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (d) => (this.log += d));
    proc.stderr!.on('data', (d) => (this.log += d));
    await waitFor(() => proc.exitCode === null && tcpAccepts(this.port), 15000, `registry-proxy on ${this.host}`).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.log}`);
    });
    return this;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  tail(n = 6000): string {
    return this.log.slice(-n);
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** false when the connection ended before Content-Length bytes (a response cut short). */
  complete: boolean;
}

/** A request with node:http that reports a cut-short body instead of throwing. */
export function http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      res.once('end', done);
      res.once('error', () => undefined);
      res.once('close', () => {
        if (!res.complete) done();
      });
    });
    req.once('error', reject);
    req.end(opts.body);
  });
}

/** X-Registry-Auth for user/password (base64url JSON, as the docker CLI sends it). */
export function registryAuth(config: Record<string, string>): string {
  return Buffer.from(JSON.stringify(config)).toString('base64url');
}

/** Pushes `data` as a blob straight into a registry (POST, then PUT ?digest= with the body); returns its digest. */
export async function putBlob(base: string, repo: string, data: Buffer, auth?: string): Promise<string> {
  const digest = sha(data);
  const authz: Record<string, string> = auth ? { Authorization: auth } : {};
  const start = await http(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { ...authz, 'Content-Length': '0' } });
  if (start.status !== 202) throw new Error(`upload start at ${base}/${repo} answered ${start.status}: ${start.body}`);
  const url = new URL(String(start.headers.location), base);
  url.searchParams.set('digest', digest);
  const r = await http(url.toString(), { method: 'PUT', headers: { ...authz, 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) }, body: data });
  if (r.status !== 201) throw new Error(`blob upload to ${base}/${repo} answered ${r.status}: ${r.body}`);
  return digest;
}

/** An OCI image (config + one layer of `layer` bytes) pushed straight into a registry. */
export async function putImage(base: string, repo: string, tag: string, layer: Buffer, auth?: string): Promise<{ manifest: Buffer; manifestDigest: string; layerDigest: string; configDigest: string }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] }, created: new Date().toISOString() }));
  const configDigest = await putBlob(base, repo, config, auth);
  const layerDigest = await putBlob(base, repo, layer, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  const r = await http(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', ...(auth ? { Authorization: auth } : {}) },
    body: manifest,
  });
  if (r.status !== 201) throw new Error(`manifest PUT to ${base}/${repo}:${tag} answered ${r.status}: ${r.body}`);
  return { manifest, manifestDigest: sha(manifest), layerDigest, configDigest };
}
