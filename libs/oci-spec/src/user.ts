import { InvalidArgumentError } from '@drydock/errors';
import { goAtoi } from './go-compat';

/**
 * Resolving a `--user` spec against the image's /etc/passwd and /etc/group, and building the
 * process environment, with the rules of Docker 20.10 (which uses runc's libcontainer/user).
 */

/** The default PATH Docker gives Linux containers when neither image nor container sets one. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const MAX_ID = 2 ** 31 - 1;
const RANGE_ERROR = `uids and gids must be in range 0-${MAX_ID}`;

/** A passwd(5) entry. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** A group(5) entry. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The numeric identity a user spec resolves to. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /**
   * What Docker puts in the spec's `user.additionalGids`: the primary gid first, then the groups
   * listing the user in /etc/group (only when the spec names no group), then `groupAdd`.
   */
  additionalGids: number[];
  /** Home directory from the passwd entry, when one matched. */
  home?: string;
}

// libcontainer's parseLine: split on ':', numbers parsed with Atoi and errors ignored (0).
function num(s: string | undefined): number {
  return s === undefined ? 0 : (goAtoi(s) ?? 0);
}

/** Parses /etc/passwd text like libcontainer (blank lines skipped, malformed numbers read as 0). */
export function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const p = line.split(':');
    out.push({ name: p[0] ?? '', uid: num(p[2]), gid: num(p[3]), gecos: p[4] ?? '', home: p[5] ?? '', shell: p[6] ?? '' });
  }
  return out;
}

/** Parses /etc/group text like libcontainer (lines are not trimmed, only empty ones skipped). */
export function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  const out: GroupEntry[] = [];
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1); // bufio.ScanLines drops a trailing CR
    if (line === '') continue;
    const p = line.split(':');
    out.push({ name: p[0] ?? '', gid: num(p[2]), members: p[3] ? p[3].split(',') : [] });
  }
  return out;
}

/**
 * Resolves `user[:group]` (names or numbers; "" means root) against passwd/group file contents,
 * either of which may be undefined when the image lacks the file. Docker semantics:
 * - a numeric uid need not exist in passwd (gid then defaults to 0, no home);
 * - an unknown name fails: `unable to find user NAME: no matching entries in passwd file`;
 * - an explicit group replaces the passwd gid and suppresses supplementary groups; an unknown group
 *   name fails: `unable to find group NAME: no matching entries in group file`;
 * - `groupAdd` (docker run --group-add) adds names or numbers: `Unable to find group NAME`.
 * All failures are InvalidArgumentError.
 */
export function resolveUser(
  userSpec: string,
  passwdText?: string,
  groupText?: string,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const [userArg = '', groupArg = ''] = userSpec.split(':');
  const uidArg = goAtoi(userArg);
  const gidArg = goAtoi(groupArg);

  let uid = 0;
  let gid = 0;
  let home: string | undefined;
  let sgids: number[] = [];

  const users = parsePasswd(passwdText).filter((u) => {
    if (userArg === '') return u.uid === 0;
    if (uidArg !== undefined) return u.uid === uidArg;
    return u.name === userArg;
  });
  let matchedName = '';
  if (users.length > 0) {
    matchedName = users[0].name;
    uid = users[0].uid;
    gid = users[0].gid;
    home = users[0].home;
  } else if (userArg !== '') {
    if (uidArg === undefined) {
      throw new InvalidArgumentError(`unable to find user ${userArg}: no matching entries in passwd file`);
    }
    if (uidArg < 0 || uidArg > MAX_ID) throw new InvalidArgumentError(RANGE_ERROR);
    uid = uidArg;
  }

  if (groupArg !== '' || matchedName !== '') {
    const groups = parseGroup(groupText).filter((g) => {
      if (groupArg === '') return g.members.includes(matchedName);
      if (gidArg !== undefined) return g.gid === gidArg;
      return g.name === groupArg;
    });
    if (groupArg !== '') {
      if (groups.length > 0) {
        gid = groups[0].gid;
      } else {
        if (gidArg === undefined) {
          throw new InvalidArgumentError(`unable to find group ${groupArg}: no matching entries in group file`);
        }
        if (gidArg < 0 || gidArg > MAX_ID) throw new InvalidArgumentError(RANGE_ERROR);
        gid = gidArg;
      }
    } else {
      sgids = groups.map((g) => g.gid);
    }
  }

  const extra = groupAdd.length > 0 ? additionalGroups(groupAdd, groupText) : [];
  const res: ResolvedUser = { uid, gid, additionalGids: [gid, ...sgids, ...extra] };
  if (home !== undefined) res.home = home;
  return res;
}

/**
 * libcontainer's GetAdditionalGroups: each entry is a group name or gid; names must exist, numbers
 * need not. Duplicates are dropped; the order is the order given (Go returns map order).
 */
export function additionalGroups(groups: readonly string[], groupText?: string): number[] {
  const all = parseGroup(groupText);
  const out: number[] = [];
  for (const ag of groups) {
    const g = all.find((e) => e.name === ag || String(e.gid) === ag);
    let id: number;
    if (g) {
      id = g.gid;
    } else {
      const n = goAtoi(ag);
      if (n === undefined) throw new InvalidArgumentError(`Unable to find group ${ag}`);
      if (n < 0 || n > MAX_ID) throw new InvalidArgumentError(RANGE_ERROR);
      id = n;
    }
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/** Options for buildProcessEnv. */
export interface ProcessEnvOptions {
  /** The container's hostname (Docker's default is the first 12 hex digits of the id). */
  hostname: string;
  /** Adds TERM=xterm (before the image/container entries, which can override it). */
  tty?: boolean;
  /**
   * If given and neither image nor container sets HOME, `HOME=<home>` is appended. runc would set
   * the same value itself (passwd home of the uid, else "/"), so callers pass exactly that.
   */
  home?: string;
}

/**
 * Merges image and container environment into the process environment exactly as Docker does:
 * 1. container config merge (daemon/commit.go merge): the container's entries in their order, then
 *    each image entry whose key the container does not set;
 * 2. CreateDaemonEnvironment: starting from [PATH=<default>, HOSTNAME=<h>, TERM=xterm (tty)], each
 *    merged entry replaces the default with the same key in place or is appended; an entry without
 *    `=` (e.g. `-e FOO` with FOO unset on the client) removes that default and is otherwise dropped.
 * So PATH and HOSTNAME always lead; a container's `HOSTNAME=x` wins over the generated one.
 */
export function buildProcessEnv(
  imageEnv: readonly string[] | null | undefined,
  containerEnv: readonly string[] | null | undefined,
  opts: ProcessEnvOptions,
): string[] {
  const merged = mergeEnv(containerEnv, imageEnv);
  const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${opts.hostname}`];
  if (opts.tty) defaults.push('TERM=xterm');
  const env = replaceOrAppendEnvValues(defaults, merged);
  if (opts.home !== undefined && !env.some((e) => e.split('=')[0] === 'HOME')) env.push(`HOME=${opts.home}`);
  return env;
}

/**
 * Docker's merge of a container's Env with its image's Env (what `docker inspect` shows as
 * Config.Env): container entries first, then image entries whose key is not set by the container.
 */
export function mergeEnv(
  containerEnv: readonly string[] | null | undefined,
  imageEnv: readonly string[] | null | undefined,
): string[] {
  const user = [...(containerEnv ?? [])];
  if (user.length === 0) return [...(imageEnv ?? [])];
  const userKeys = new Set(user.map((e) => e.split('=')[0]));
  for (const e of imageEnv ?? []) if (!userKeys.has(e.split('=')[0])) user.push(e);
  return user;
}

/** Docker's ReplaceOrAppendEnvValues (container/env.go). */
export function replaceOrAppendEnvValues(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const cache = new Map<string, number>();
  defaults.forEach((e, i) => cache.set(e.slice(0, e.indexOf('=')), i));
  for (const value of overrides) {
    const idx = value.indexOf('=');
    if (idx < 0) {
      const i = cache.get(value);
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    const i = cache.get(value.slice(0, idx));
    if (i !== undefined) out[i] = value;
    else out.push(value);
  }
  return out.filter((e): e is string => e !== undefined && e !== '');
}
