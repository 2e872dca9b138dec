import { InvalidArgumentError } from '@drydock/errors';

/**
 * Docker's `filters` query parameter -> proto Filter list. Accepts the current
 * form {"status":{"exited":true}} and the legacy {"status":["exited"]}, as
 * dockerd's filters.FromJSON does. Values mapped to false are dropped.
 */
export interface DockerFilter {
  key: string;
  values: string[];
}

export function parseFilters(raw: string | null): DockerFilter[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('invalid filter');
  }
  if (parsed === null) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('invalid filter');
  const out: DockerFilter[] = [];
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values = v as string[];
    else if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'boolean')) {
      values = Object.entries(v as Record<string, boolean>)
        .filter(([, on]) => on)
        .map(([k]) => k);
    } else throw new InvalidArgumentError('invalid filter');
    out.push({ key, values });
  }
  return out;
}

/**
 * dockerd's `until`/`since` filter timestamps: Unix seconds (with fraction), an
 * RFC 3339 date, or a Go duration back from `now` ("24h", "10m", "1h30m").
 * Returns Unix milliseconds.
 */
export function parseFilterTime(v: string, nowMs: number): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Math.floor(Number(v) * 1000);
  const dur = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(v);
  if (dur && v !== '') {
    const [, h = '0', m = '0', s = '0', ms = '0'] = dur;
    return nowMs - Math.round(Number(h) * 3600000 + Number(m) * 60000 + Number(s) * 1000 + Number(ms));
  }
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return t;
  throw new InvalidArgumentError(`failed to parse value as time or duration: "${v}"`);
}
