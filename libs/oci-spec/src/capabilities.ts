import { InvalidArgumentError } from '@drydock/errors';
import { goQuote } from './go-compat';

/**
 * Linux capabilities with Docker 20.10's rules (oci/caps): the default set, `--cap-add` /
 * `--cap-drop` normalisation and the add/drop arithmetic.
 */

/** Docker's default capability set, in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/**
 * Every capability Docker 20.10 knows, in kernel-number order: CAP_CHOWN (0) to CAP_AUDIT_READ
 * (37). Docker 20.10 deliberately stops at AUDIT_READ, so CAP_PERFMON, CAP_BPF and
 * CAP_CHECKPOINT_RESTORE are "unknown" and not granted to privileged containers.
 */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
]);

const ALL = 'ALL';

/**
 * NormalizeLegacyCapabilities: upper-cases, adds `CAP_` when missing, keeps `ALL`, and rejects
 * unknown names with InvalidArgumentError `unknown capability: "CAP_FOO"`.
 */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return caps.map((raw) => {
    let c = raw.toUpperCase();
    if (c === ALL) return c;
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!ALL_CAPABILITIES.includes(c)) throw new InvalidArgumentError(`unknown capability: ${goQuote(c)}`);
    return c;
  });
}

/**
 * The create-time check on HostConfig.CapAdd/CapDrop, with Docker's wrapping:
 * `invalid CapAdd: unknown capability: "CAP_FOO"` (or `invalid CapDrop: ...`).
 */
export function validateCapabilities(capAdd: readonly string[] = [], capDrop: readonly string[] = []): void {
  for (const [field, list] of [['CapAdd', capAdd], ['CapDrop', capDrop]] as const) {
    try {
      normalizeCapabilities(list);
    } catch (err) {
      throw new InvalidArgumentError(`invalid ${field}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * TweakCapabilities: privileged gets ALL_CAPABILITIES; otherwise `ALL` in adds means everything but
 * the drops, `ALL` in drops means only the adds, else the basics minus drops followed by the adds
 * (a cap both in the defaults and added appears twice, as with Docker; runc accepts that).
 */
export function tweakCapabilities(
  basics: readonly string[],
  adds: readonly string[] = [],
  drops: readonly string[] = [],
  privileged = false,
): string[] {
  if (privileged) return [...ALL_CAPABILITIES];
  if (adds.length === 0 && drops.length === 0) return [...basics];
  const capDrop = normalizeCapabilities(drops);
  const capAdd = normalizeCapabilities(adds);
  if (capAdd.includes(ALL)) return ALL_CAPABILITIES.filter((c) => !capDrop.includes(c));
  if (capDrop.includes(ALL)) return capAdd;
  return [...basics.filter((c) => !capDrop.includes(c)), ...capAdd];
}
