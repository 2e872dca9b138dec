/** Go's filepath.Match on '/'-separated paths (`*`, `?`, `[...]`, `\` escapes); a bad pattern matches nothing. */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      const negate = cls.startsWith('^');
      if (negate) cls = cls.slice(1);
      re += `[${negate ? '^' : ''}${cls.replace(/\\(.)/g, '\\$1').replace(/\//g, '')}]`;
      i = end;
    } else re += escape(c);
  }
  try {
    return new RegExp(re + '$').test(name);
  } catch {
    return false;
  }
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** containsWildcards (unix): an unescaped `*`, `?` or `[`. */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}
