import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';
import * as z from 'zod/mini';
import { envInt, loadConfig } from '@drydock/config';

/** dockerd always treats loopback as insecure, whatever else is configured. */
const DEFAULT_INSECURE = '127.0.0.0/8';

const list = z.pipe(
  z._default(z.string(), ''),
  z.transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  ),
);

const absolutePath = z.string().check(z.refine(isAbsolute, 'must be an absolute path'));

/** Environment -> validated registry-proxy configuration (main.ts passes process.env). */
const schema = z.pipe(
  z.object({
    DRYDOCK_REGISTRY_PROXY_LISTEN: z._default(z.string().check(z.regex(/^[^\s]+:\d+$/, 'expected host:port')), '127.0.0.1:5100'),
    // Storage root; by default $DRYDOCK_STATE_DIR/registry.
    DRYDOCK_REGISTRY_PROXY_DIR: z.optional(absolutePath),
    DRYDOCK_STATE_DIR: z._default(absolutePath, '/var/lib/drydock'),
    // distribution's own limit for a manifest body.
    DRYDOCK_REGISTRY_PROXY_MAX_MANIFEST_BYTES: envInt(4 * 1024 * 1024),
    DRYDOCK_REGISTRY_PROXY_SHUTDOWN_GRACE_MS: envInt(2000),
    DRYDOCK_LOG_LEVEL: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    // Pull-through cache of remote registries; by default <storage root>/cache.
    DRYDOCK_REGISTRY_CACHE_DIR: z.optional(absolutePath),
    DRYDOCK_REGISTRY_CACHE_MAX_BYTES: envInt(20 * 1024 ** 3),
    // dockerd's daemon.json options, as comma-separated lists.
    DRYDOCK_REGISTRY_MIRRORS: list,
    DRYDOCK_INSECURE_REGISTRIES: list,
    // A daemon.json whose registry-mirrors and insecure-registries are added to the lists above.
    DRYDOCK_REGISTRY_DAEMON_JSON: z.optional(absolutePath),
    // Deadline of every upstream call up to its response headers, and of whole small bodies
    // (pings, tokens, manifests); a streaming blob body only has the stall limit below.
    DRYDOCK_REGISTRY_UPSTREAM_TIMEOUT_MS: envInt(30000),
    // A blob body that delivers nothing for this long is cut (and resumed by the cache).
    DRYDOCK_REGISTRY_UPSTREAM_STALL_MS: envInt(60000),
  }),
  z.transform((e, ctx) => {
    // zod/mini's transform context has no addIssue: issues go straight into the payload.
    const addIssue = (path: string, message: string) => ctx.issues.push({ code: 'custom', path: [path], message, input: e });
    const mirrors = [...e.DRYDOCK_REGISTRY_MIRRORS];
    const insecure = [...e.DRYDOCK_INSECURE_REGISTRIES];
    if (e.DRYDOCK_REGISTRY_DAEMON_JSON) {
      try {
        const d = readDaemonJson(e.DRYDOCK_REGISTRY_DAEMON_JSON);
        mirrors.push(...d.mirrors);
        insecure.push(...d.insecure);
      } catch (err) {
        addIssue('DRYDOCK_REGISTRY_DAEMON_JSON', (err as Error).message);
      }
    }
    const mirrorUrls: string[] = [];
    for (const m of mirrors) {
      const problem = mirrorProblem(m);
      if (problem) addIssue('DRYDOCK_REGISTRY_MIRRORS', problem);
      else mirrorUrls.push(new URL(m).origin);
    }
    for (const r of insecure) {
      const problem = insecureProblem(r);
      if (problem) addIssue('DRYDOCK_INSECURE_REGISTRIES', problem);
    }
    if (!insecure.includes(DEFAULT_INSECURE)) insecure.push(DEFAULT_INSECURE);
    const i = e.DRYDOCK_REGISTRY_PROXY_LISTEN.lastIndexOf(':');
    const storageDir = e.DRYDOCK_REGISTRY_PROXY_DIR ?? join(e.DRYDOCK_STATE_DIR, 'registry');
    return {
      host: e.DRYDOCK_REGISTRY_PROXY_LISTEN.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(e.DRYDOCK_REGISTRY_PROXY_LISTEN.slice(i + 1)),
      storageDir,
      maxManifestBytes: e.DRYDOCK_REGISTRY_PROXY_MAX_MANIFEST_BYTES,
      shutdownGraceMs: e.DRYDOCK_REGISTRY_PROXY_SHUTDOWN_GRACE_MS,
      logLevel: e.DRYDOCK_LOG_LEVEL,
      cache: { dir: e.DRYDOCK_REGISTRY_CACHE_DIR ?? join(storageDir, 'cache'), maxBytes: e.DRYDOCK_REGISTRY_CACHE_MAX_BYTES },
      upstream: {
        mirrors: [...new Set(mirrorUrls)],
        insecureRegistries: [...new Set(insecure)],
        timeoutMs: e.DRYDOCK_REGISTRY_UPSTREAM_TIMEOUT_MS,
        stallMs: e.DRYDOCK_REGISTRY_UPSTREAM_STALL_MS,
      },
    };
  }),
);

export type RegistryProxyConfig = z.infer<typeof schema>;
export type UpstreamConfig = RegistryProxyConfig['upstream'];

export function loadRegistryProxyConfig(env: NodeJS.ProcessEnv): RegistryProxyConfig {
  return loadConfig(schema, env);
}

/** The two registry options of a daemon.json; a missing, unreadable or malformed file is an error. */
function readDaemonJson(path: string): { mirrors: string[]; insecure: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read daemon.json ${path}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path} is not a JSON object`);
  const d = doc as Record<string, unknown>;
  const strings = (key: string): string[] => {
    const v = d[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${path}: "${key}" must be an array of strings`);
    return v as string[];
  };
  return { mirrors: strings('registry-mirrors'), insecure: strings('insecure-registries') };
}

/** dockerd's ValidateMirror: an http(s) URL with nothing but a host (and port). */
function mirrorProblem(m: string): string | undefined {
  let u: URL;
  try {
    u = new URL(m);
  } catch {
    return `invalid mirror: ${JSON.stringify(m)} is not a valid URI`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `invalid mirror: unsupported scheme ${JSON.stringify(u.protocol.slice(0, -1))} in ${JSON.stringify(m)}`;
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    return `invalid mirror: path, query, fragment or credentials are not allowed in ${JSON.stringify(m)}`;
  }
  return undefined;
}

/** dockerd's insecure-registries entries: a CIDR, or a registry host with an optional port (no scheme). */
function insecureProblem(r: string): string | undefined {
  if (r.includes('://')) return `insecure registry ${r} should not contain '://'`;
  const slash = r.indexOf('/');
  if (slash >= 0) {
    const ip = r.slice(0, slash);
    const bits = Number(r.slice(slash + 1));
    const max = isIP(ip) === 4 ? 32 : isIP(ip) === 6 ? 128 : 0;
    if (!max || !/^\d+$/.test(r.slice(slash + 1)) || bits > max) return `insecure registry ${r} is not a valid CIDR or host[:port]`;
    return undefined;
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(r)) return `insecure registry ${r} is not a valid CIDR or host[:port]`;
  return undefined;
}
