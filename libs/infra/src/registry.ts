import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requireCommand } from './deps';
import { ManagedProcess } from './managed-process';
import { freePort, tcpAccepts } from './net';

export interface RegistryOptions {
  /** Holds config.yml, the storage root (`data/`), htpasswd and the log. */
  dir: string;
  /** TCP port on 127.0.0.1; a free one is picked at first start when omitted. */
  port?: number;
  /** Basic auth: user -> plain password (hashed with bcrypt into an htpasswd file). */
  htpasswd?: { users: Record<string, string>; realm?: string };
  binary?: string;
  /** SIGKILL the server when this process dies (tests). */
  dieWithParent?: boolean;
}

const STD_B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BCRYPT_B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A bcrypt hash ($2b$) of `password`: the only htpasswd format distribution accepts.
 * Uses libcrypt through perl (both always on Debian) instead of a bcrypt package;
 * the password travels on stdin, never on a command line.
 */
export function bcryptHash(password: string, cost = 10): string {
  const salt = [...randomBytes(16).toString('base64').replace(/=+$/, '')]
    .map((c) => BCRYPT_B64[STD_B64.indexOf(c)])
    .join('');
  const setting = `$2b$${String(cost).padStart(2, '0')}$${salt}`;
  const perl = requireCommand('perl', 'perl-base');
  const hash = execFileSync(perl, ['-e', 'local $/; my $p = <STDIN>; my $h = crypt($p, $ARGV[0]); print defined $h ? $h : ""', setting], {
    input: password,
    encoding: 'utf8',
  });
  if (!hash.startsWith('$2b$')) throw new Error('libcrypt has no bcrypt support: install the Debian package libcrypt1');
  return hash;
}

/** The config.yml of a private registry: filesystem storage, 127.0.0.1 only, deletes allowed. */
export function registryConfig(o: { dir: string; port: number; htpasswdPath?: string; realm?: string }): string {
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'info', formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: join(o.dir, 'data') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${o.port}`,
      // Signs upload state; random per config is fine for one instance.
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
  };
  if (o.htpasswdPath) config.auth = { htpasswd: { realm: o.realm ?? 'drydock', path: o.htpasswdPath } };
  return stringify(config);
}

/** A private distribution registry (Debian's docker-registry) child process. */
export class RegistryProcess {
  readonly dir: string;
  readonly logPath: string;
  readonly configPath: string;
  private chosenPort?: number;
  private readonly proc: ManagedProcess;

  constructor(private readonly opts: RegistryOptions) {
    this.dir = opts.dir;
    this.logPath = join(opts.dir, 'registry.log');
    this.configPath = join(opts.dir, 'config.yml');
    this.chosenPort = opts.port;
    this.proc = new ManagedProcess({
      name: 'docker-registry',
      command: () => ({
        command: requireCommand(this.opts.binary ?? 'docker-registry', 'docker-registry'),
        args: ['serve', this.configPath],
      }),
      logPath: this.logPath,
      ready: () => tcpAccepts(this.port),
      dieWithParent: opts.dieWithParent,
    });
  }

  get port(): number {
    if (this.chosenPort === undefined) throw new Error('registry has no port before start()');
    return this.chosenPort;
  }

  /** host:port, as it appears in image references. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async start(timeoutMs = 20000): Promise<void> {
    if (this.proc.running) return;
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    this.chosenPort ??= await freePort();
    let htpasswdPath: string | undefined;
    if (this.opts.htpasswd) {
      htpasswdPath = join(this.dir, 'htpasswd');
      const lines = Object.entries(this.opts.htpasswd.users).map(([u, p]) => `${u}:${bcryptHash(p)}\n`);
      writeFileSync(htpasswdPath, lines.join(''), { mode: 0o600 });
    }
    writeFileSync(this.configPath, registryConfig({ dir: this.dir, port: this.port, htpasswdPath, realm: this.opts.htpasswd?.realm }));
    await this.proc.start(timeoutMs);
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    return this.proc.stop(signal);
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }
}
