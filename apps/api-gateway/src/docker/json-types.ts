import { InvalidArgumentError } from '@drydock/errors';

/** dockerd's httputils.BoolValue: anything but "", "0", "no", "false", "none" is true. */
export function boolQuery(q: URLSearchParams, key: string): boolean {
  const s = (q.get(key) ?? '').trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** An integer query parameter; absent or empty -> undefined; junk -> 400 with Go's strconv text. */
export function intQuery(q: URLSearchParams, key: string): number | undefined {
  const s = q.get(key);
  if (s === null || s === '') return undefined;
  if (!/^[-+]?\d+$/.test(s)) throw new InvalidArgumentError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}
