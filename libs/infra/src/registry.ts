import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requireCommand } from './deps';
import { LoopbackServerProcess } from './loopback-server';
import type { CommandSpec } from './managed-process';

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
export class RegistryProcess extends LoopbackServerProcess {
  readonly configPath: string;

  constructor(private readonly opts: RegistryOptions) {
    super({ name: 'docker-registry', dir: opts.dir, logFile: 'registry.log', port: opts.port, dieWithParent: opts.dieWithParent });
    this.configPath = join(opts.dir, 'config.yml');
  }

  protected command(): CommandSpec {
    return { command: requireCommand(this.opts.binary ?? 'docker-registry', 'docker-registry'), args: ['serve', this.configPath] };
  }

  /** host:port, as it appears in image references. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  protected prepare(): void {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    let htpasswdPath: string | undefined;
    if (this.opts.htpasswd) {
      htpasswdPath = join(this.dir, 'htpasswd');
      const lines = Object.entries(this.opts.htpasswd.users).map(([u, p]) => `${u}:${bcryptHash(p)}\n`);
      writeFileSync(htpasswdPath, lines.join(''), { mode: 0o600 });
    }
    writeFileSync(this.configPath, registryConfig({ dir: this.dir, port: this.port, htpasswdPath, realm: this.opts.htpasswd?.realm }));
  }
}
