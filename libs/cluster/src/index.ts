/**
 * What the cluster's services share: classic Swarm's placement expressions (parsed by the
 * gateway to decide whether a create asks for placement, evaluated by the scheduler) and the
 * format of the KV buckets (nodes, container directory, names).
 */
export * from './expressions';
export * from './directory';
export * from './kv';
