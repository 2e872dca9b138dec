import { FailedPreconditionError, findDrydockError, InvalidArgumentError } from '@drydock/errors';
import { applyFilters, DEFAULT_FILTERS, FilterRejected, type Filter } from './filters';
import { NoResources, type Strategy } from './strategies';
import type { PlacementSpec, SchedNode } from './types';

/** Swarm's errNoNodeAvailable. */
export const NO_NODES = 'No nodes available in the cluster';

/**
 * Swarm's SelectNodesForContainer: a pass with the soft expressions, and when it fails one
 * without them; the candidates ranked by the strategy, best first. Failures carry Swarm's
 * texts: a bad expression as InvalidArgument, no fitting node as FailedPrecondition.
 */
export function selectNodes(spec: PlacementSpec, nodes: SchedNode[], strategy: Strategy, filters: readonly Filter[] = DEFAULT_FILTERS): SchedNode[] {
  try {
    return pass(spec, nodes, strategy, filters, true);
  } catch {
    try {
      return pass(spec, nodes, strategy, filters, false);
    } catch (err) {
      if (err instanceof FilterRejected || err instanceof NoResources) {
        const bad = findDrydockError(err);
        if (bad instanceof InvalidArgumentError) throw new InvalidArgumentError(err.message, { cause: err });
        throw new FailedPreconditionError(err.message, { cause: err });
      }
      throw err;
    }
  }
}

function pass(spec: PlacementSpec, nodes: SchedNode[], strategy: Strategy, filters: readonly Filter[], soft: boolean): SchedNode[] {
  const accepted = applyFilters(filters, spec, nodes, soft);
  if (accepted.length === 0) throw new FilterRejected(NO_NODES);
  return strategy.rankAndSort(spec, accepted);
}
