/** Launchers for the local infrastructure (containerd, NATS, Redis, registry) used by the stack and tests. */
export * from './containerd';
export { NatsServerProcess, natsServerCommand, type NatsClusterOptions, type NatsServerOptions } from './nats';
export { RedisServerProcess, redisServerCommand, type RedisServerOptions } from './redis';
export { RegistryProcess, registryConfig, bcryptHash, type RegistryOptions } from './registry';
export { ManagedProcess, logTail, type CommandSpec, type ManagedProcessOptions } from './managed-process';
export { Watchdog, type WatchdogOptions } from './watchdog';
export { Backoff, backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
export { dockerPingOk, freePort, tcpAccepts, unixSocketAnswers } from './net';
export { requireCommand, MissingDependencyError } from './deps';
export { waitFor } from './wait';
export { ctr, deleteAllContainers, killShimsOf } from './containerd-cleanup';
export { mountsUnder, unmountAllUnder } from './mounts';
