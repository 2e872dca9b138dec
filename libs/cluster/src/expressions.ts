import { InvalidArgumentError } from '@drydock/errors';

/** The label namespace classic Swarm kept its placement settings under. */
export const SWARM_LABEL_NAMESPACE = 'com.docker.swarm';
export const CONSTRAINTS_LABEL = `${SWARM_LABEL_NAMESPACE}.constraints`;
export const AFFINITIES_LABEL = `${SWARM_LABEL_NAMESPACE}.affinities`;
export const WHITELISTS_LABEL = `${SWARM_LABEL_NAMESPACE}.whitelists`;
export const RESCHEDULE_LABEL = `${SWARM_LABEL_NAMESPACE}.reschedule-policies`;

export type Operator = '==' | '!=';

/** One parsed `<key><op><value>` expression, as classic Swarm's filter/expr.go held it. */
export interface Expr {
  key: string;
  operator: Operator;
  /** The value with its leading `~` removed: a glob, or a regular expression between slashes. */
  value: string;
  /** `==~` / `!=~`: enforced only in the first pass. */
  soft: boolean;
}

// Swarm's own patterns (filter/expr.go). A key needs at least two characters; Go's \s is [\t\n\f\r ].
const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE = /^[=!/]?(~)?[a-z0-9:\-_\t\n\f\r .*/()?+[\]\\^$|]+$/i;
// "==" is tried first, so `a!=b==c` splits on "==" (and fails on its key), as in Swarm.
const OPERATORS: Operator[] = ['==', '!='];

/**
 * Parses expressions as Swarm's parseExprs did; the first bad one throws with Swarm's text
 * ("Key 'x' is invalid", "Value 'x' is invalid", "One of operator ==, != is expected").
 */
export function parseExprs(texts: readonly string[]): Expr[] {
  return texts.map((text) => {
    const op = OPERATORS.find((o) => text.includes(o));
    if (!op) throw new InvalidArgumentError('One of operator ==, != is expected');
    const at = text.indexOf(op);
    const key = text.slice(0, at);
    const raw = text.slice(at + op.length);
    if (!KEY.test(key)) throw new InvalidArgumentError(`Key '${key}' is invalid`);
    if (!VALUE.test(raw)) throw new InvalidArgumentError(`Value '${raw}' is invalid`);
    return { key, operator: op, value: raw.replace(/^~+/, ''), soft: raw.startsWith('~') };
  });
}

/** `key==value` as Swarm printed an expression in its error texts (the soft mark dropped). */
export function exprText(e: Expr): string {
  return `${e.key}${e.operator}${e.value}`;
}

const compiled = new Map<string, RegExp | null>();
const PLAIN = /^[A-Za-z0-9_:@-]+$/;

/**
 * Whether the expression holds for a node offering these values: `==` when any value
 * matches, `!=` when none does (Swarm's expr.Match). A value `/re/` is a regular
 * expression (unanchored); otherwise a glob where only `*` is special and the rest is
 * still read as a regular expression, anchored, exactly as Swarm built it.
 */
export function matchExpr(e: Expr, values: readonly string[]): boolean {
  const v = e.value;
  // a value with no pattern character matches itself only: no RegExp per container name (affinity:container==c123)
  if (PLAIN.test(v)) {
    const match = values.includes(v);
    return e.operator === '==' ? match : !match;
  }
  const pattern = v.length >= 2 && v.startsWith('/') && v.endsWith('/') ? v.slice(1, -1) : `^${v.split('*').join('.*')}$`;
  const re = compileGoRegexp(pattern);
  const match = re !== null && values.some((x) => re.test(x));
  return e.operator === '==' ? match : !match;
}

/**
 * Go's RE2 syntax to a JavaScript RegExp, for what Swarm users wrote: leading inline flags
 * (`(?i)`, `(?s)`, `(?m)`, which JavaScript does not take inline) and `(?P<name>`. A pattern
 * that does not compile matches nothing (Swarm logged it and matched nothing).
 */
function compileGoRegexp(pattern: string): RegExp | null {
  const hit = compiled.get(pattern);
  if (hit !== undefined) return hit;
  let source = pattern;
  let flags = '';
  const lead = /^(\^?)\(\?([ims]+)\)/.exec(source);
  if (lead) {
    flags = [...new Set(lead[2])].join('');
    source = lead[1] + source.slice(lead[0].length);
  }
  source = source.replace(/\(\?P</g, '(?<');
  let re: RegExp | null;
  try {
    re = new RegExp(source, flags);
  } catch {
    re = null;
  }
  if (compiled.size > 1000) compiled.clear();
  compiled.set(pattern, re);
  return re;
}

/** What a container's env and labels say about placement, with the env as Swarm left it. */
export interface PlacementAsk {
  /** The env without `constraint:`, `affinity:`, `reschedule:` and `whitelist:` entries. */
  env: string[];
  /** The labels with the expressions stored as Swarm stored them (JSON arrays under com.docker.swarm.*). */
  labels: Record<string, string>;
  constraints: string[];
  affinities: string[];
  whitelists: string[];
  reschedulePolicies: string[];
  /** A constraint or affinity was given: only then is the container placed by the scheduler. */
  placementAsked: boolean;
  /** `reschedule:on-node-failure` (env or label): re-create it elsewhere when its node is lost. */
  rescheduleOnNodeFailure: boolean;
}

/**
 * Reads the placement expressions of a container as Swarm's BuildContainerConfig did:
 * the JSON array labels first, then `-e <kind>:<expr>` entries appended, the env entries
 * removed and the union stored back in the labels. Unlike Swarm (which ignored them), a
 * label that is not a JSON array of strings is refused, and the reschedule policy is
 * validated here with Swarm's texts. Expressions themselves are checked by parseExprs.
 */
export function extractPlacement(env: readonly string[], labels: Readonly<Record<string, string>>): PlacementAsk {
  const fromLabel = (label: string): string[] => {
    const text = labels[label];
    if (text === undefined) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === null) return [];
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new InvalidArgumentError(`invalid label ${label}: expected a JSON array of strings, got ${JSON.stringify(text)}`);
    }
    return parsed;
  };
  const constraints = fromLabel(CONSTRAINTS_LABEL);
  const affinities = fromLabel(AFFINITIES_LABEL);
  const whitelists = fromLabel(WHITELISTS_LABEL);
  const reschedulePolicies = fromLabel(RESCHEDULE_LABEL);
  const kept: string[] = [];
  const lists: Record<string, string[]> = { affinity: affinities, constraint: constraints, reschedule: reschedulePolicies, whitelist: whitelists };
  for (const e of env) {
    const colon = e.indexOf(':');
    const list = colon >= 0 ? lists[e.slice(0, colon)] : undefined;
    if (list && Object.prototype.hasOwnProperty.call(lists, e.slice(0, colon))) list.push(e.slice(colon + 1));
    else kept.push(e);
  }
  // Swarm's ContainerConfig.Validate
  if (reschedulePolicies.length > 1) throw new InvalidArgumentError('too many reschedule policies');
  if (reschedulePolicies.length === 1 && !['off', 'on-node-failure'].includes(reschedulePolicies[0])) {
    throw new InvalidArgumentError(`invalid reschedule policy: ${reschedulePolicies[0]}`);
  }
  const out: Record<string, string> = { ...labels };
  for (const [label, list] of [
    [AFFINITIES_LABEL, affinities],
    [CONSTRAINTS_LABEL, constraints],
    [RESCHEDULE_LABEL, reschedulePolicies],
    [WHITELISTS_LABEL, whitelists],
  ] as const) {
    if (list.length > 0) out[label] = goJson(list);
  }
  return {
    env: kept,
    labels: out,
    constraints,
    affinities,
    whitelists,
    reschedulePolicies,
    placementAsked: constraints.length > 0 || affinities.length > 0,
    rescheduleOnNodeFailure: reschedulePolicies[0] === 'on-node-failure',
  };
}

/** JSON as Go's json.Marshal writes it (HTML characters escaped), so labels read as Swarm wrote them. */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Whether a created container opted in to rescheduling (its labels as the supervisor keeps
 * them, the env's `reschedule:` already moved into RESCHEDULE_LABEL). A malformed label is
 * no opt-in here: creates refuse it before a container exists.
 */
export function reschedulesOnNodeFailure(labels: Readonly<Record<string, string>> | undefined): boolean {
  const text = labels?.[RESCHEDULE_LABEL];
  if (!text) return false;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.length === 1 && v[0] === 'on-node-failure';
  } catch {
    return false;
  }
}
