import { InvalidArgumentError } from '@drydock/errors';
import { goAtoi } from './go-compat';

/**
 * Linux signal names as Docker 20.10 knows them (pkg/signal SignalMap, amd64/arm64 numbering),
 * without the SIG prefix. Real-time signals follow glibc: SIGRTMIN is 34, SIGRTMAX 64, and only
 * RTMIN..RTMIN+15 and RTMAX-14..RTMAX are named.
 */
export const SIGNALS: Readonly<Record<string, number>> = Object.freeze({
  ABRT: 6,
  ALRM: 14,
  BUS: 7,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  FPE: 8,
  HUP: 1,
  ILL: 4,
  INT: 2,
  IO: 29,
  IOT: 6,
  KILL: 9,
  PIPE: 13,
  POLL: 29,
  PROF: 27,
  PWR: 30,
  QUIT: 3,
  SEGV: 11,
  STKFLT: 16,
  STOP: 19,
  SYS: 31,
  TERM: 15,
  TRAP: 5,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  USR1: 10,
  USR2: 12,
  VTALRM: 26,
  WINCH: 28,
  XCPU: 24,
  XFSZ: 25,
  ...realtimeSignals(),
});

function realtimeSignals(): Record<string, number> {
  const rtmin = 34;
  const rtmax = 64;
  const out: Record<string, number> = { RTMIN: rtmin };
  for (let i = 1; i <= 15; i++) out[`RTMIN+${i}`] = rtmin + i;
  for (let i = 14; i >= 1; i--) out[`RTMAX-${i}`] = rtmax - i;
  out.RTMAX = rtmax;
  return out;
}

/**
 * Parses a signal the way Docker's ParseSignal does: a decimal number (any non-zero integer; the
 * kill path checks it separately with validSignalForPlatform), or a name with or without `SIG`,
 * in any case (`KILL`, `SIGKILL`, `sigterm`, `RTMIN+3`).
 * Throws InvalidArgumentError `Invalid signal: X` (Docker 20.10's capitalisation) otherwise.
 */
export function parseSignal(raw: string): number {
  const n = goAtoi(raw);
  if (n !== undefined) {
    if (n === 0) throw new InvalidArgumentError(`Invalid signal: ${raw}`);
    return n;
  }
  const upper = raw.toUpperCase();
  const name = upper.startsWith('SIG') ? upper.slice(3) : upper;
  const sig = Object.prototype.hasOwnProperty.call(SIGNALS, name) ? SIGNALS[name] : undefined;
  if (sig === undefined) throw new InvalidArgumentError(`Invalid signal: ${raw}`);
  return sig;
}

/** True if `sig` is one of the signals in SIGNALS (Docker's ValidSignalForPlatform). */
export function validSignalForPlatform(sig: number): boolean {
  return Object.values(SIGNALS).includes(sig);
}

/**
 * The check Docker's kill path makes after parsing: throws InvalidArgumentError
 * `The linux daemon does not support signal N` for numbers outside the table.
 */
export function assertSignalForPlatform(sig: number): void {
  if (!validSignalForPlatform(sig)) throw new InvalidArgumentError(`The linux daemon does not support signal ${sig}`);
}

/** The conventional `SIG`-prefixed name of a signal number, or undefined (first alias wins). */
export function signalName(sig: number): string | undefined {
  const preferred: Record<number, string> = { 6: 'ABRT', 17: 'CHLD', 29: 'IO' };
  if (preferred[sig]) return 'SIG' + preferred[sig];
  for (const [name, n] of Object.entries(SIGNALS)) if (n === sig) return 'SIG' + name;
  return undefined;
}
