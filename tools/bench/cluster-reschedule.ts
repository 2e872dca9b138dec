// The bench row "node death -> rescheduled container running" (issue 12): the same loss as
// tools/cluster/reschedule.e2e.spec.ts (the node's containerd, supervisor, gateway and builder frozen with
// SIGSTOP: no heartbeat, and no watchdog restarts them), measured from the node's last heartbeat.
import { waitFor } from '@drydock/infra';
import { connect } from 'nats';
import { beats, type ClusterHarness } from '../cluster/cluster-harness';

export interface RescheduleSample {
  /** From the dead node's last heartbeat to the copy on another node running, ms. */
  ms: number;
}

/**
 * Kills (freezes) node2 of the running cluster `c` with a `-e reschedule:on-node-failure` container on it and
 * measures until that container runs on another node, `runs` times; each run thaws node2 and waits for its
 * stale copy to go before the next. Undefined when the cluster has fewer than two nodes.
 */
export async function measureNodeDeathToRescheduled(c: ClusterHarness, runs: number): Promise<RescheduleSample[] | undefined> {
  if (c.nodes.length < 2) return undefined;
  const [door, lost] = [c.nodes[0], c.nodes[1]];
  const frozen = ['containerd', 'supervisor', 'gateway', 'builder'].map((s) => `${lost}.${s}`);
  const signal = (sig: NodeJS.Signals) => {
    for (const s of frozen) {
      const pid = c.recordedPid(s);
      if (pid) process.kill(pid, sig);
    }
  };
  const where = async (name: string): Promise<{ id: string; node: string; running: boolean } | undefined> => {
    const r = await c.docker(door, ['inspect', '--format', '{{.Id}} {{.Node.Name}} {{.State.Running}}', name], 3000);
    if (r.code !== 0) return undefined;
    const [id, node, running] = r.stdout.trim().split(' ');
    return { id, node, running: running === 'true' };
  };
  const nc = await connect({ servers: c.natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const out: RescheduleSample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const name = `bench-resched-${i}`;
      await c.ok(door, ['run', '-d', '-e', 'reschedule:on-node-failure', '-e', `constraint:node==~${lost}`, '--name', name, 'busybox', 'sleep', '100000']);
      const before = await where(name);
      if (before?.node !== lost) throw new Error(`${name} was placed on ${before?.node}, not ${lost}`);
      // its create request must be in the directory before the node dies
      await new Promise((r) => setTimeout(r, 2000));
      signal('SIGSTOP');
      let ms = 0;
      try {
        await new Promise((r) => setTimeout(r, 1500));
        const lastBeat = (await beats(nc))[lost];
        await waitFor(async () => {
          const w = await where(name);
          if (!w || w.node === lost || !w.running) return false;
          ms = Date.now() - lastBeat;
          return true;
        }, 60000, `${name} to run on another node`, 100);
      } finally {
        signal('SIGCONT');
      }
      out.push({ ms });
      // back: beating again (so the next placement may choose it)
      const thawed = Date.now();
      await waitFor(async () => ((await beats(nc))[lost] ?? 0) > thawed, 30000, `${lost} to beat again`, 250);
      // the thawed node removes its stale copy; then the name goes for the next run
      await waitFor(async () => (await c.docker(lost, ['ps', '-a', '--filter', `node=${lost}`, '--filter', `id=${before.id}`, '-q'], 5000)).stdout.trim() === '', 60000, `${lost} to remove its stale copy`, 250);
      await c.ok(door, ['rm', '-f', name]);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
  return out;
}
