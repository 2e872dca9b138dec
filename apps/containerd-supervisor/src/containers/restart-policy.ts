import { InvalidArgumentError } from '@drydock/errors';

export interface RestartPolicy {
  name?: string;
  maximumRetryCount?: number;
}

const names = new Set(['', 'no', 'on-failure', 'always', 'unless-stopped']);

/** Validates a policy with dockerd's texts. */
export function validateRestartPolicy(p: RestartPolicy | undefined, autoRemove: boolean): void {
  const name = p?.name ?? '';
  if (!names.has(name)) throw new InvalidArgumentError(`invalid restart policy '${name}'`);
  const max = p?.maximumRetryCount ?? 0;
  if (max < 0) throw new InvalidArgumentError('maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy '${name}'`);
  if (autoRemove && name !== '' && name !== 'no') {
    throw new InvalidArgumentError("can't create 'AutoRemove' container with restart policy");
  }
}

/**
 * Whether a container that just exited should be restarted (dockerd's
 * restartmanager rules). `manuallyStopped` is set by docker stop/kill.
 */
export function shouldRestart(p: RestartPolicy | undefined, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped) return false;
  switch (p?.name ?? '') {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      const max = p?.maximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default:
      return false;
  }
}

/** Whether the policy starts the container when the supervisor (re)starts, as dockerd does at boot. */
export function restartsOnBoot(p: RestartPolicy | undefined, manuallyStopped: boolean): boolean {
  const name = p?.name ?? '';
  return !manuallyStopped && (name === 'always' || name === 'unless-stopped');
}

/**
 * dockerd's back-off between restarts: 100 ms doubling up to 1 minute, back to
 * 100 ms once a run lasted at least 10 seconds.
 */
export function nextRestartDelayMs(previousDelayMs: number, lastRunMs: number): number {
  if (lastRunMs >= 10000 || previousDelayMs <= 0) return 100;
  return Math.min(previousDelayMs * 2, 60000);
}
