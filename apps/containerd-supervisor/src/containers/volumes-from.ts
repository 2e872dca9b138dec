import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError } from '@drydock/errors';

/** One HostConfig.VolumesFrom entry, parsed. */
export interface VolumesFromEntry {
  /** The source container's name, id or id prefix. */
  ref: string;
  /** False with `:ro`: every copied mount is read-only; true keeps each mount's own mode. */
  readWrite: boolean;
}

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated']);

/**
 * volume/mounts linux_parser ParseVolumesFrom (dockerd 20.10): "container[:mode]", the mode a
 * valid mount mode without propagation or copy modes (so `ro`, `rw`, `z`, `Z`, a consistency, or
 * a comma list of one of each kind).
 */
export function parseVolumesFrom(spec: string): VolumesFromEntry {
  if (spec.length === 0) throw new InvalidArgumentError('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  if (i < 0) return { ref: spec, readWrite: true };
  const mode = spec.slice(i + 1);
  const parts = mode === '' ? [] : mode.split(',');
  const counts = [0, 0, 0];
  for (const o of parts) {
    if (RW_MODES.has(o)) counts[0]++;
    else if (LABEL_MODES.has(o)) counts[1]++;
    else if (CONSISTENCY.has(o)) counts[2]++;
    // propagation and copy modes (valid in -v) are refused too: a copy keeps the source's
    else throw new InvalidArgumentError(`invalid mode: ${mode}`);
  }
  if (counts.some((n) => n > 1)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  return { ref: spec.slice(0, i), readWrite: !parts.includes('ro') };
}

/** A source container as the merge needs it: its id and its mounts (as stored at its create). */
export interface VolumesFromSource {
  id: string;
  mounts: supervisorV1.Mount[];
}

const clean = (p: string) => p.replace(/\/+$/, '') || '/';

/**
 * dockerd's registerMountPoints order: each VolumesFrom source's mount points in turn (a later
 * one replaces an earlier one at the same destination), then the container's own Binds and
 * Mounts, which replace any of them; Config.Volumes anonymous volumes are made last, only where
 * nothing is mounted yet. A copied mount keeps the source's volume, bind path, driver and
 * options; it is read-only when the source's is or the entry says `ro`. The source's own
 * --volumes-from mounts are among its mounts, so they pass on too.
 *
 * `resolve` maps a reference to its container or throws (dockerd answers 400 with the lookup's
 * text, e.g. "No such container: x").
 */
export function mergeVolumesFrom(
  own: supervisorV1.Mount[],
  volumesFrom: string[],
  resolve: (ref: string) => VolumesFromSource,
): supervisorV1.Mount[] {
  const entries = volumesFrom.map(parseVolumesFrom);
  if (entries.length === 0) return own;
  const copied = new Map<string, supervisorV1.Mount>();
  for (const entry of entries) {
    let src: VolumesFromSource;
    try {
      src = resolve(entry.ref);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    for (const m of src.mounts) {
      const t = clean(m.target ?? '');
      copied.delete(t);
      copied.set(t, { ...m, readOnly: !!m.readOnly || !entry.readWrite, volumesFrom: src.id, configVolume: false });
    }
  }
  const explicit = own.filter((m) => !m.configVolume);
  const taken = new Set(explicit.map((m) => clean(m.target ?? '')));
  const inherited = [...copied].filter(([t]) => !taken.has(t)).map(([, m]) => m);
  for (const m of inherited) taken.add(clean(m.target ?? ''));
  return [...inherited, ...explicit, ...own.filter((m) => m.configVolume && !taken.has(clean(m.target ?? '')))];
}
