import { isAbsolute, join } from 'node:path';
import { envInt, loadConfig, z } from '@drydock/config';

/** Environment -> validated registry-proxy configuration (main.ts passes process.env). */
const schema = z
  .object({
    DRYDOCK_REGISTRY_PROXY_LISTEN: z.string().regex(/^[^\s]+:\d+$/, 'expected host:port').default('127.0.0.1:5100'),
    // Storage root; by default $DRYDOCK_STATE_DIR/registry.
    DRYDOCK_REGISTRY_PROXY_DIR: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
    DRYDOCK_STATE_DIR: z.string().refine(isAbsolute, 'must be an absolute path').default('/var/lib/drydock'),
    // distribution's own limit for a manifest body.
    DRYDOCK_REGISTRY_PROXY_MAX_MANIFEST_BYTES: envInt(4 * 1024 * 1024),
    DRYDOCK_REGISTRY_PROXY_SHUTDOWN_GRACE_MS: envInt(2000),
    DRYDOCK_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .transform((e) => {
    const i = e.DRYDOCK_REGISTRY_PROXY_LISTEN.lastIndexOf(':');
    return {
      host: e.DRYDOCK_REGISTRY_PROXY_LISTEN.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(e.DRYDOCK_REGISTRY_PROXY_LISTEN.slice(i + 1)),
      storageDir: e.DRYDOCK_REGISTRY_PROXY_DIR ?? join(e.DRYDOCK_STATE_DIR, 'registry'),
      maxManifestBytes: e.DRYDOCK_REGISTRY_PROXY_MAX_MANIFEST_BYTES,
      shutdownGraceMs: e.DRYDOCK_REGISTRY_PROXY_SHUTDOWN_GRACE_MS,
      logLevel: e.DRYDOCK_LOG_LEVEL,
    };
  });

export type RegistryProxyConfig = z.infer<typeof schema>;

export function loadRegistryProxyConfig(env: NodeJS.ProcessEnv): RegistryProxyConfig {
  return loadConfig(schema, env);
}
