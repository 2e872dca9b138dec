import type { CrashPoints } from '@drydock/runtime';

/**
 * Where the network area can be made to crash (DRYDOCK_SUPERVISOR_CRASH_AT, a test hook):
 * the steps after which a restart must still find nothing half made.
 * - network-create:recorded  the 'creating' record is written, no kernel object yet
 * - network-create:bridge    the bridge exists, its iptables rules do not
 * - network-create:rules     bridge and rules exist, the record still says 'creating'
 * - endpoint:leased          (connect or start) the endpoint and its address are in the record ('adding'), no CNI ADD yet
 * - endpoint:added           the CNI ADD made the veth (and port rules), the record still says 'adding'
 * - start:prepared           every endpoint of a starting run is ready, the task has not started
 */
export const NETWORK_CRASH_POINTS = ['network-create:recorded', 'network-create:bridge', 'network-create:rules', 'endpoint:leased', 'endpoint:added', 'start:prepared'] as const;

export type NetworkCrashPoint = (typeof NETWORK_CRASH_POINTS)[number];

export type NetworkCrashPoints = CrashPoints<NetworkCrashPoint>;
