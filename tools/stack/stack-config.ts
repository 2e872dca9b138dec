import { isAbsolute, join } from 'node:path';
import * as z from 'zod/mini';
import { envInt, loadConfig } from '@drydock/config';

const unixSocketPath = z.string().check(
  z.refine(isAbsolute, 'must be an absolute path'),
  z.refine((p) => Buffer.byteLength(p) < 108, 'must be shorter than 108 bytes'),
);

const schema = z.object({
  DRYDOCK_STATE_DIR: z._default(z.string().check(z.refine(isAbsolute, 'must be an absolute path')), '/var/lib/drydock'),
  DRYDOCK_NATS_PORT: envInt(4222).check(z.refine((p) => p > 0 && p < 65536, 'must be a TCP port')),
  DRYDOCK_REDIS_PORT: envInt(6379).check(z.refine((p) => p > 0 && p < 65536, 'must be a TCP port')),
  DRYDOCK_SUPERVISOR_LISTEN: z._default(z.string().check(z.regex(/^[^\s:]+:\d+$/, 'must be host:port')), '127.0.0.1:7701'),
  // The scheduler's gRPC API (drydock.scheduler.v1).
  DRYDOCK_SCHEDULER_LISTEN: z._default(z.string().check(z.regex(/^[^\s:]+:\d+$/, 'must be host:port')), '127.0.0.1:7702'),
  // Comma-separated app directory names to run; "none" runs only the infrastructure.
  DRYDOCK_STACK_APPS: z.optional(z.string()),
  // Unix sockets are limited to 108 bytes including the terminating NUL.
  DRYDOCK_CONTAINERD_ADDRESS: z.optional(unixSocketPath),
  // Where the api-gateway serves the Docker API (what DOCKER_HOST points at); dockerd's
  // /var/run/docker.sock is left alone so that a real Docker on the same host keeps working.
  DRYDOCK_GATEWAY_SOCKET: z._default(unixSocketPath, '/run/drydock/docker.sock'),
  // Where the registry-proxy serves the OCI distribution API; its storage is $DRYDOCK_STATE_DIR/registry.
  DRYDOCK_REGISTRY_PROXY_LISTEN: z._default(z.string().check(z.regex(/^[^\s:]+:\d+$/, 'must be host:port')), '127.0.0.1:5100'),
});

export interface StackConfig {
  stateDir: string;
  containerdDir: string;
  /** containerd's gRPC socket; by default inside containerdDir. */
  containerdAddress: string;
  natsDir: string;
  natsPort: number;
  redisDir: string;
  redisPort: number;
  supervisorListen: string;
  /** Where clients reach the supervisor: its listen address, with a wildcard host replaced by loopback. */
  supervisorAddress: string;
  /** The scheduler's listen address, and where clients reach it. */
  schedulerListen: string;
  schedulerAddress: string;
  /** The api-gateway's Docker API socket (DOCKER_HOST=unix://<this>). */
  gatewaySocket: string;
  /** The registry-proxy's listen address and content store. */
  registryProxyListen: string;
  registryDir: string;
  /** Pid records of what this stack started, to clean up after a stack that was SIGKILLed. */
  runDir: string;
  /** Apps to run if built; undefined: every built app. */
  apps?: string[];
}

/** The stack's configuration from the environment; every bad variable is reported at once. */
export function loadStackConfig(env: NodeJS.ProcessEnv): StackConfig {
  const c = loadConfig(schema, env);
  const stateDir = c.DRYDOCK_STATE_DIR.replace(/\/+$/, '') || '/';
  const containerdDir = join(stateDir, 'containerd');
  const containerdAddress = c.DRYDOCK_CONTAINERD_ADDRESS ?? join(containerdDir, 'c.sock');
  if (Buffer.byteLength(containerdAddress) >= 108) {
    throw new Error(`containerd socket path ${containerdAddress} is too long for a unix socket: use a shorter DRYDOCK_STATE_DIR`);
  }
  return {
    stateDir,
    containerdDir,
    containerdAddress,
    natsDir: join(stateDir, 'nats'),
    natsPort: c.DRYDOCK_NATS_PORT,
    redisDir: join(stateDir, 'redis'),
    redisPort: c.DRYDOCK_REDIS_PORT,
    supervisorListen: c.DRYDOCK_SUPERVISOR_LISTEN,
    supervisorAddress: clientAddress(c.DRYDOCK_SUPERVISOR_LISTEN),
    schedulerListen: c.DRYDOCK_SCHEDULER_LISTEN,
    schedulerAddress: clientAddress(c.DRYDOCK_SCHEDULER_LISTEN),
    gatewaySocket: c.DRYDOCK_GATEWAY_SOCKET,
    registryProxyListen: c.DRYDOCK_REGISTRY_PROXY_LISTEN,
    registryDir: join(stateDir, 'registry'),
    runDir: join(stateDir, 'run'),
    apps: c.DRYDOCK_STACK_APPS === undefined ? undefined : c.DRYDOCK_STACK_APPS.split(',').map((a) => a.trim()).filter((a) => a && a !== 'none'),
  };
}

/** The environment every Drydock service gets from the stack. */
export function serviceEnv(c: StackConfig, loggerBinary: string, dnsBinary: string): Record<string, string> {
  return {
    DRYDOCK_STATE_DIR: c.stateDir,
    DRYDOCK_CONTAINERD_ADDRESS: c.containerdAddress,
    DRYDOCK_NATS_URL: `nats://127.0.0.1:${c.natsPort}`,
    DRYDOCK_REDIS_URL: `redis://127.0.0.1:${c.redisPort}`,
    DRYDOCK_SUPERVISOR_LISTEN: c.supervisorListen,
    DRYDOCK_SUPERVISOR_ADDRESS: c.supervisorAddress,
    DRYDOCK_SCHEDULER_LISTEN: c.schedulerListen,
    DRYDOCK_SCHEDULER_ADDRESS: c.schedulerAddress,
    DRYDOCK_GATEWAY_SOCKET: c.gatewaySocket,
    // pulls and pushes (supervisor), login and search (gateway) go through the registry-proxy
    DRYDOCK_REGISTRY_PROXY_URL: `http://${clientAddress(c.registryProxyListen)}`,
    DRYDOCK_LOGGER_BINARY: loggerBinary,
    DRYDOCK_DNS_BINARY: dnsBinary,
  };
}

/** What the registry-proxy gets on top of serviceEnv: where to listen and store. */
export function registryProxyEnv(c: StackConfig): Record<string, string> {
  return {
    DRYDOCK_REGISTRY_PROXY_LISTEN: c.registryProxyListen,
    DRYDOCK_REGISTRY_PROXY_DIR: c.registryDir,
  };
}

/** host:port to connect to for a listen address; 0.0.0.0 and [::] listen on loopback too. */
export function clientAddress(listen: string): string {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  return ['0.0.0.0', '::', '[::]', '*'].includes(host) ? `127.0.0.1:${listen.slice(i + 1)}` : listen;
}
