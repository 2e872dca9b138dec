/** One WWW-Authenticate challenge; scheme lower-cased, parameter names lower-cased. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/**
 * Parses WWW-Authenticate values (RFC 9110 §11.6.1); several challenges may share one
 * value. Malformed trailing input is ignored, as Go's challenge parser does.
 */
export function parseChallenges(values: string[] | string | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const v of Array.isArray(values) ? values : values ? [values] : []) parseOne(v, out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m) return undefined;
    i = TOKEN.lastIndex;
    return m[0];
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipWs();
    while (s[i] === ',') (i++, skipWs());
    const start = i;
    const t = token();
    if (!t) return;
    skipWs();
    if (s[i] === '=' && current) {
      i++;
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        value = token() ?? '';
      }
      current.params[t.toLowerCase()] = value;
      skipWs();
      if (s[i] === ',') i++;
      continue;
    }
    if (s[i] === '=' && !current) return;
    // A token not followed by "=" starts a new challenge (its scheme).
    i = start + t.length;
    current = { scheme: t.toLowerCase(), params: {} };
    out.push(current);
  }
}
