import { InvalidArgumentError } from '@drydock/errors';

/** moby/term's ASCII key names ("ctrl-@" .. "ctrl-_") and DEL. */
const KEY_NAMES = new Set(['DEL', ...'@abcdefghijklmnopqrstuvwxyz[\\]^_'.split('').map((c) => `ctrl-${c}`)]);

/** Whether moby/term.ToBytes takes a detach-keys text: comma-separated single characters or key names. */
export function validDetachKeys(keys: string): boolean {
  return keys.split(',').every((k) => k.length === 1 || KEY_NAMES.has(k));
}

/** exec create's DetachKeys, as daemon/exec.go refuses them (dockerd: 500; 400 here). */
export function checkDetachKeys(keys: string | undefined): void {
  if (keys && !validDetachKeys(keys)) throw new InvalidArgumentError(`Invalid escape keys (${keys}) provided`);
}

/**
 * A numeric `signal` of POST /containers/{id}/kill that Linux has no signal for
 * (pkg/signal's map: 1-31 and SIGRTMIN..SIGRTMAX, 34-64). dockerd answers 500
 * "Cannot kill container: <id>: The linux daemon does not support signal N"; 400 here.
 * Names are the supervisor's to check.
 */
export function checkKillSignal(container: string, signal: string): void {
  if (!/^\d+$/.test(signal)) return;
  const n = Number(signal);
  if (n === 0 || (n >= 1 && n <= 31) || (n >= 34 && n <= 64)) return;
  throw new InvalidArgumentError(`Cannot kill container: ${container}: The linux daemon does not support signal ${n}`);
}

/** opts.ValidateEnv as dockerd's create applies it: an entry needs a name before "=". */
export function checkEnv(env: string[]): void {
  for (const e of env) if (e.split('=', 1)[0] === '') throw new InvalidArgumentError(`invalid environment variable: ${e}`);
}

/** A Go int that the supervisor's proto holds as int32 (stop timeouts, retry counts): larger values mean "forever". */
export function int32Of(v: bigint): number {
  return Number(v > 0x7fffffffn ? 0x7fffffffn : v < -0x80000000n ? -0x80000000n : v);
}
