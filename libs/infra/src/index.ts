/** Launchers for the local infrastructure (containerd, NATS, Redis, registry) used by the stack and tests. */
export * from './containerd';
export { waitFor } from './wait';
