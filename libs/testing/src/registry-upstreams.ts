import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { parse, stringify } from 'yaml';
import { RegistryProcess, type RegistryOptions } from '@drydock/infra';

// ---------------------------------------------------------------------------
// A bearer-token server for docker-registry's `auth: token:` mode
// ---------------------------------------------------------------------------

export interface TokenServerOptions {
  /** user -> password. Wrong passwords get 401 `{"details":"incorrect username or password"}` (Docker Hub's form). */
  users?: Record<string, string>;
  /** Anonymous callers get pull access (default: tokens without any access, so the registry says UNAUTHORIZED). */
  anonymousPull?: boolean;
  /** The `aud` of the tokens and the registry's `service` (default "drydock-test-registry"). */
  service?: string;
  /** The `iss` of the tokens (default "drydock-test-token"). */
  issuer?: string;
}

/** One request the token server answered (tests assert what the proxy asked for). */
export interface TokenRequest {
  method: string;
  /** The account that authenticated, '' when anonymous, undefined when refused. */
  account?: string;
  grantType: 'basic' | 'anonymous' | 'refresh_token' | 'password';
  scopes: string[];
  status: number;
}

/**
 * A small token server (distribution's token auth spec): GET /token with optional Basic
 * credentials, POST /token with `grant_type=refresh_token` or `password`. Tokens are
 * RS256 JWTs carrying the signing certificate in `x5c`; `certificatePem` goes into the
 * registry's `rootcertbundle` (TokenAuthRegistry does that). `offline_token=true` (login)
 * also returns a refresh token, which POST accepts instead of the password.
 */
export class TokenServer {
  readonly requests: TokenRequest[] = [];
  readonly service: string;
  readonly issuer: string;
  readonly certificatePem: string;
  private readonly key: KeyObject;
  private readonly certDer: Buffer;
  private readonly refreshTokens = new Map<string, string>();
  private server?: Server;
  private port = 0;

  constructor(private readonly opts: TokenServerOptions = {}) {
    this.service = opts.service ?? 'drydock-test-registry';
    this.issuer = opts.issuer ?? 'drydock-test-token';
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.key = privateKey;
    this.certDer = selfSignedCertificate(privateKey, publicKey.export({ type: 'spki', format: 'der' }), this.issuer);
    this.certificatePem = `-----BEGIN CERTIFICATE-----\n${this.certDer.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
  }

  /** The realm: http://127.0.0.1:<port>/token. */
  get realm(): string {
    if (!this.port) throw new Error('TokenServer is not listening');
    return `http://127.0.0.1:${this.port}/token`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** A token for `account` with exactly these accesses (tests that talk to the registry directly). */
  issue(account: string, access: { type: string; name: string; actions: string[] }[]): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = b64({ typ: 'JWT', alg: 'RS256', x5c: [this.certDer.toString('base64')] });
    const claims = b64({ iss: this.issuer, sub: account, aud: this.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
    const sig = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(this.key).toString('base64url');
    return `${header}.${claims}.${sig}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token');
    if (url.pathname !== '/token') return send(res, 404, { details: 'not found' });
    let params = url.searchParams;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    } else req.resume();
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const record = (r: Omit<TokenRequest, 'method' | 'scopes'>) => this.requests.push({ method: req.method ?? '', scopes, ...r });
    let account: string | undefined;
    let grantType: TokenRequest['grantType'];
    if (req.method === 'POST') {
      grantType = params.get('grant_type') === 'password' ? 'password' : 'refresh_token';
      if (grantType === 'password') account = this.check(params.get('username') ?? '', params.get('password') ?? '');
      else account = this.refreshTokens.get(params.get('refresh_token') ?? '');
    } else {
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      grantType = basic ? 'basic' : 'anonymous';
      if (basic) {
        const plain = Buffer.from(basic[1], 'base64').toString('utf8');
        const i = plain.indexOf(':');
        account = this.check(plain.slice(0, i), plain.slice(i + 1));
      } else account = '';
    }
    if (account === undefined) {
      record({ grantType, status: 401 });
      return send(res, 401, { details: 'incorrect username or password' });
    }
    const access = scopes
      .map(parseScope)
      .filter((s): s is NonNullable<typeof s> => !!s)
      .map((s) => ({ ...s, actions: account ? s.actions : this.opts.anonymousPull ? s.actions.filter((a) => a === 'pull') : [] }))
      .filter((s) => s.actions.length > 0);
    const token = this.issue(account, access);
    const body: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    if (account && (params.get('offline_token') === 'true' || params.get('access_type') === 'offline' || grantType === 'password')) {
      const rt = `rt-${randomBytes(12).toString('hex')}`;
      this.refreshTokens.set(rt, account);
      body.refresh_token = rt;
    }
    record({ grantType, account, status: 200 });
    send(res, 200, body);
  }

  private check(user: string, password: string): string | undefined {
    const users = this.opts.users ?? {};
    return Object.hasOwn(users, user) && users[user] === password ? user : undefined;
  }
}

function parseScope(s: string): { type: string; name: string; actions: string[] } | undefined {
  // repository:<name>:<actions>; the name may contain a registry host with a colon.
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// A minimal self-signed X.509 v1 certificate in DER, made with node:crypto alone (no
// openssl needed): distribution only needs it as the trust root of the tokens' x5c.
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const SEQ = 0x30;
const oid = (bytes: number[]) => der(0x06, Buffer.from(bytes));
const SHA256_WITH_RSA = der(SEQ, oid([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), Buffer.from([0x05, 0x00]));
const utcTime = (d: Date) => der(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
const commonName = (cn: string) => der(SEQ, der(0x31, der(SEQ, oid([0x55, 0x04, 0x03]), der(0x0c, Buffer.from(cn)))));

function selfSignedCertificate(key: KeyObject, spki: Buffer, cn: string): Buffer {
  const now = Date.now();
  const serial = der(0x02, Buffer.concat([Buffer.from([0x01]), randomBytes(8)]));
  const tbs = der(SEQ, serial, SHA256_WITH_RSA, commonName(cn), der(SEQ, utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 7 * 86400_000))), commonName(cn), spki);
  const signature = createSign('RSA-SHA256').update(tbs).sign(key);
  return der(SEQ, tbs, SHA256_WITH_RSA, der(0x03, Buffer.from([0x00]), signature));
}

/**
 * A docker-registry that trusts `tokens` (auth: token:). Start the TokenServer first:
 * its realm goes into the registry's config.
 */
export class TokenAuthRegistry extends RegistryProcess {
  constructor(
    opts: Omit<RegistryOptions, 'htpasswd'>,
    private readonly tokens: TokenServer,
  ) {
    super(opts);
  }

  protected override prepare(): void {
    super.prepare();
    const bundle = join(this.dir, 'token-root.pem');
    writeFileSync(bundle, this.tokens.certificatePem);
    const config = parse(readFileSync(this.configPath, 'utf8'));
    config.auth = { token: { realm: this.tokens.realm, service: this.tokens.service, issuer: this.tokens.issuer, rootcertbundle: bundle } };
    writeFileSync(this.configPath, stringify(config));
  }
}

// ---------------------------------------------------------------------------
// A counting, tampering HTTP proxy in front of a registry
// ---------------------------------------------------------------------------

/**
 * How the tap treats responses. Tampering applies to GET responses with a 200/206 body
 * whose request path matches `match` (default: every path); counting applies always.
 */
export interface TapMode {
  match?: RegExp;
  /** Flip one byte of the body: at this offset, or in the middle (needs Content-Length). */
  flipByte?: number | 'middle';
  /** Send only the first N body bytes, with a Content-Length of N: a consistent but short answer. */
  truncate?: number;
  /** Send N body bytes (of the announced length), then destroy the connection. */
  cutAfter?: number;
  /** Hold the response headers this long. */
  delayMs?: number;
  /** Throttle response bodies to about this rate (10 slices per second). */
  bytesPerSecond?: number;
  /** Misbehave on the first N matching responses only (counted from setMode), then pass them through. */
  times?: number;
}

/** One request seen by the tap. */
export interface TapRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: string;
  /** The Range header, if any. */
  range?: string;
  status?: number;
  /** Response body bytes passed to the client so far. */
  bytes: number;
  /** The client went away (or the tap cut the connection) before the response was complete. */
  aborted?: boolean;
}

/**
 * An HTTP proxy in front of a registry that records every request and can misbehave,
 * for tests and benchmarks of the registry-proxy:
 *
 *   const tap = await RegistryTap.start({ upstream: registry.url });   // registry.url: http://127.0.0.1:PORT
 *   // point the client at tap.host (127.0.0.1:PORT), then:
 *   tap.count(/\/blobs\/sha256:/, 'GET');      // how many blob GETs reached the registry
 *   tap.requests                               // every request: method, path, query, range, status
 *   tap.setMode({ match: /\/blobs\//, flipByte: 'middle' });   // tamper from now on
 *   tap.setMode({});                           // behave again
 *   await tap.close();
 *
 * The Host header is passed unchanged, so the registry's absolute Location URLs
 * (uploads) point back at the tap.
 */
export class RegistryTap {
  readonly requests: TapRequest[] = [];
  private mode: TapMode;
  /** Responses the current mode has been applied to. */
  private applied = 0;
  private server?: Server;
  private port = 0;
  private readonly upstream: URL;

  private constructor(opts: { upstream: string; mode?: TapMode }) {
    this.upstream = new URL(opts.upstream);
    this.mode = opts.mode ?? {};
  }

  static async start(opts: { upstream: string; mode?: TapMode }): Promise<RegistryTap> {
    const tap = new RegistryTap(opts);
    tap.server = createServer((req, res) => tap.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      tap.server!.once('error', reject);
      tap.server!.listen(0, '127.0.0.1', () => resolve());
    });
    tap.port = (tap.server.address() as AddressInfo).port;
    return tap;
  }

  /** host:port, as in image references (`${tap.host}/team/app:1`). */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  setMode(mode: TapMode): void {
    this.mode = mode;
    this.applied = 0;
  }

  /** Requests so far whose path matches (and whose method is `method`, when given). */
  count(path: RegExp, method?: string): number {
    return this.requests.filter((r) => path.test(r.path) && (!method || r.method === method)).length;
  }

  /** Forgets the requests seen so far. */
  reset(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://tap');
    const seen: TapRequest = { method: req.method ?? '', path: u.pathname, query: u.search, range: req.headers.range, bytes: 0 };
    this.requests.push(seen);
    const mode = this.mode;
    const up = request(
      { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: req.headers },
      (ures) => {
        seen.status = ures.statusCode;
        const tamper =
          mode === this.mode &&
          req.method === 'GET' &&
          (ures.statusCode === 200 || ures.statusCode === 206) &&
          (!mode.match || mode.match.test(u.pathname)) &&
          (mode.times === undefined || this.applied < mode.times);
        if (tamper) this.applied++;
        const headers = { ...ures.headers };
        const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
        if (tamper && mode.truncate !== undefined && length !== undefined) headers['content-length'] = String(Math.min(length, mode.truncate));
        const go = () => {
          if (res.destroyed) return void ures.destroy();
          res.writeHead(ures.statusCode ?? 502, headers);
          if (!tamper) {
            ures.on('data', (c: Buffer) => (seen.bytes += c.length));
            ures.pipe(res);
            return;
          }
          let out: NodeJS.ReadableStream = ures;
          const flipAt = mode.flipByte === 'middle' ? (length !== undefined ? Math.floor(length / 2) : 0) : mode.flipByte;
          if (flipAt !== undefined) out = out.pipe(byteFlipper(flipAt));
          if (mode.truncate !== undefined) out = out.pipe(limiter(mode.truncate));
          if (mode.bytesPerSecond) out = out.pipe(throttle(mode.bytesPerSecond));
          if (mode.cutAfter !== undefined) {
            let sent = 0;
            const cut = mode.cutAfter;
            out.on('data', (c: Buffer) => {
              if (sent >= cut) return;
              const part = c.subarray(0, cut - sent);
              sent += part.length;
              seen.bytes += part.length;
              res.write(part);
              if (sent >= cut) {
                ures.destroy();
                res.socket?.destroy();
              }
            });
            out.on('end', () => res.end());
            return;
          }
          out.on('data', (c: Buffer) => (seen.bytes += c.length));
          out.pipe(res);
        };
        if (mode.delayMs) setTimeout(go, mode.delayMs).unref();
        else go();
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) seen.aborted = true;
      up.destroy();
    });
    req.pipe(up);
  }
}

function byteFlipper(at: number): Transform {
  let pos = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      if (at >= pos && at < pos + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[at - pos] ^= 0xff;
      }
      pos += chunk.length;
      cb(null, chunk);
    },
  });
}

function limiter(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      const part = chunk.subarray(0, Math.max(0, left));
      left -= part.length;
      cb(null, part.length ? part : undefined);
    },
  });
}

/** Paces bytes to about `bytesPerSecond`, in slices of a tenth of a second. */
function throttle(bytesPerSecond: number): Transform {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  const start = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      const parts: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += slice) parts.push(chunk.subarray(i, i + slice));
      const next = () => {
        const p = parts.shift();
        if (!p) return cb();
        const due = start + (sent / bytesPerSecond) * 1000;
        setTimeout(() => {
          sent += p.length;
          this.push(p);
          next();
        }, Math.max(0, due - Date.now()));
      };
      next();
    },
  });
}
