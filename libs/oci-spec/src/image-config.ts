import { InvalidArgumentError } from '@drydock/errors';
import { parseDockerfile, type DockerfileNode } from './dockerfile-parser';
import { goQuote, parseGoDuration } from './go-compat';
import { cleanPath } from './mounts';
import { parseExposedPorts } from './ports';
import { processWord, processWords } from './shell-lex';
import { parseSignal } from './signals';
import { buildProcessEnv, mergeEnv } from './user';
import type { HealthConfig, ImageRunConfig } from './types';

/**
 * Image-config edits and the image/container config merge, with Docker 20.10's rules
 * (builder/dockerfile BuildFromConfig for `--change`, daemon/commit.go merge for create).
 */

/** The shell Docker prepends to shell-form CMD/ENTRYPOINT on Linux when the config has no Shell. */
export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * Instructions `docker commit --change` / `docker import --change` accept. Docker 20.10 lacks
 * STOPSIGNAL here (added in Docker 23); Drydock accepts it, as the newer engines do.
 */
export const VALID_CHANGE_COMMANDS = [
  'cmd', 'entrypoint', 'healthcheck', 'env', 'expose', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir',
] as const;

/** Minimum for HEALTHCHECK durations (container.MinimumDuration). */
const MINIMUM_DURATION_NS = 1e6;

type Command =
  | { kind: 'env'; pairs: [string, string][] }
  | { kind: 'label'; pairs: [string, string][] }
  | { kind: 'onbuild'; expression: string }
  | { kind: 'workdir'; path: string }
  | { kind: 'cmd' | 'entrypoint'; cmdLine: string[] | null; prependShell: boolean }
  | { kind: 'healthcheck'; health: HealthConfig }
  | { kind: 'expose'; ports: string[] }
  | { kind: 'user'; user: string }
  | { kind: 'volume'; volumes: string[] }
  | { kind: 'stopsignal'; signal: string };

// BFlags.Parse with a set of allowed string flags; returns their values.
function parseFlags(node: DockerfileNode, allowed: readonly string[] = []): Map<string, string> {
  const values = new Map<string, string>();
  for (const arg of node.flags) {
    if (!arg.startsWith('--')) throw new InvalidArgumentError(`Arg should start with -- : ${arg}`);
    if (arg === '--') break;
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (!allowed.includes(name)) throw new InvalidArgumentError(`Unknown flag: ${name}`);
    if (values.has(name)) throw new InvalidArgumentError(`Duplicate flag specified: ${name}`);
    if (value === undefined) throw new InvalidArgumentError(`Missing a value on flag: ${name}`);
    values.set(name, value);
  }
  return values;
}

function kvps(args: string[], cmdName: string): [string, string][] {
  if (args.length === 0) throw new InvalidArgumentError(`${cmdName} requires at least one argument`);
  if (args.length % 2 !== 0) throw new InvalidArgumentError(`Bad input to ${cmdName}, too many arguments`);
  const out: [string, string][] = [];
  for (let j = 0; j < args.length; j += 2) {
    if (args[j].length === 0) throw new InvalidArgumentError(`${cmdName} names can not be blank`);
    out.push([args[j], args[j + 1]]);
  }
  return out;
}

function exactlyOne(node: DockerfileNode, name: string): string {
  if (node.args.length !== 1) throw new InvalidArgumentError(`${name} requires exactly one argument`);
  return node.args[0];
}

// handleJSONArgs: exec form as is, shell form joined into one string.
function jsonArgs(args: string[], json: boolean): string[] {
  if (args.length === 0) return [];
  return json ? args : [args.join(' ')];
}

function parseOptInterval(flag: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  let d: number;
  try {
    d = parseGoDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if (d < MINIMUM_DURATION_NS) throw new InvalidArgumentError(`Interval ${goQuote(flag)} cannot be less than 1ms`);
  return d;
}

/** HEALTHCHECK's arguments and flags as instructions.parseHealthcheck reads them (Docker's texts on errors). */
export function parseHealthcheckInstruction(node: DockerfileNode): HealthConfig {
  return parseHealthcheck(node);
}

function parseHealthcheck(node: DockerfileNode): HealthConfig {
  if (node.args.length === 0) throw new InvalidArgumentError('HEALTHCHECK requires at least one argument');
  const typ = node.args[0].toUpperCase();
  const args = node.args.slice(1);
  if (typ === 'NONE') {
    if (args.length !== 0) throw new InvalidArgumentError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  const flags = parseFlags(node, ['interval', 'timeout', 'start-period', 'retries']);
  if (typ !== 'CMD') throw new InvalidArgumentError(`Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  const cmd = jsonArgs(args, node.json);
  if (cmd.length === 0) throw new InvalidArgumentError('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig = { Test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  const interval = parseOptInterval('interval', flags.get('interval'));
  const timeout = parseOptInterval('timeout', flags.get('timeout'));
  const startPeriod = parseOptInterval('start-period', flags.get('start-period'));
  if (interval) health.Interval = interval;
  if (timeout) health.Timeout = timeout;
  if (startPeriod) health.StartPeriod = startPeriod;
  const retries = flags.get('retries');
  if (retries !== undefined && retries !== '') {
    const n = /^[+-]?[0-9]+$/.test(retries) ? Number(retries) : NaN;
    if (Number.isNaN(n)) throw new InvalidArgumentError(`strconv.ParseInt: parsing ${goQuote(retries)}: invalid syntax`);
    if (n > 2 ** 31 - 1 || n < -(2 ** 31)) {
      throw new InvalidArgumentError(`strconv.ParseInt: parsing ${goQuote(retries)}: value out of range`);
    }
    if (n < 1) throw new InvalidArgumentError(`--retries must be at least 1 (not ${n})`);
    health.Retries = n;
  }
  return health;
}

function parseCommand(node: DockerfileNode): Command {
  switch (node.value) {
    case 'env':
      parseFlags(node);
      return { kind: 'env', pairs: kvps(node.args, 'ENV') };
    case 'label':
      parseFlags(node);
      return { kind: 'label', pairs: kvps(node.args, 'LABEL') };
    case 'onbuild': {
      if (node.args.length === 0) throw new InvalidArgumentError('ONBUILD requires at least one argument');
      parseFlags(node);
      const trigger = node.args[0].trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new InvalidArgumentError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') {
        throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
      }
      return { kind: 'onbuild', expression: node.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    case 'workdir': {
      const path = exactlyOne(node, 'WORKDIR');
      parseFlags(node);
      return { kind: 'workdir', path };
    }
    case 'cmd':
    case 'entrypoint': {
      parseFlags(node);
      let cmdLine: string[] | null = jsonArgs(node.args, node.json);
      if (node.value === 'entrypoint' && cmdLine.length === 0) cmdLine = null;
      return { kind: node.value, cmdLine, prependShell: !node.json };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', health: parseHealthcheck(node) };
    case 'expose': {
      if (node.args.length === 0) throw new InvalidArgumentError('EXPOSE requires at least one argument');
      parseFlags(node);
      return { kind: 'expose', ports: [...node.args].sort() };
    }
    case 'user': {
      const user = exactlyOne(node, 'USER');
      parseFlags(node);
      return { kind: 'user', user };
    }
    case 'volume': {
      if (node.args.length === 0) throw new InvalidArgumentError('VOLUME requires at least one argument');
      parseFlags(node);
      const volumes = node.args.map((v) => v.trim());
      if (volumes.includes('')) throw new InvalidArgumentError('VOLUME specified can not be an empty string');
      return { kind: 'volume', volumes };
    }
    case 'stopsignal':
      return { kind: 'stopsignal', signal: exactlyOne(node, 'STOPSIGNAL') };
    default:
      throw new InvalidArgumentError(`${node.value} is not a valid change command`);
  }
}

function expander(env: readonly string[], escapeToken: string): (w: string) => string {
  return (w) => {
    try {
      return processWord(w, env, escapeToken);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** normalizeWorkdir (unix): relative paths are joined to the current WORKDIR. */
function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new InvalidArgumentError('cannot normalize nothing');
  if (!requested.startsWith('/')) return cleanPath(`/${current}/${requested}`);
  return requested;
}

/**
 * Applies `docker commit/import --change` instructions to an image's run config and returns the
 * new config (the input is not modified). Supported: CMD, ENTRYPOINT (exec `["a","b"]` or shell
 * form, which becomes `[...Shell ?? ["/bin/sh","-c"], "<text>"]`), ENV (`K V` and `K=V K2="v 2"`),
 * EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK, ONBUILD. Docker's semantics hold:
 * arguments of ENV/LABEL/USER/WORKDIR/VOLUME/STOPSIGNAL/EXPOSE are expanded against the config's
 * Env as it stands before each instruction; ENTRYPOINT clears Cmd unless a CMD came earlier in the
 * same change set. All instructions are validated before any is applied. Failures are
 * InvalidArgumentError with Docker's text, e.g. `foo is not a valid change command` (lower-cased,
 * as Docker prints it).
 */
export function applyChanges(config: ImageRunConfig | undefined, changes: readonly string[]): ImageRunConfig {
  const rc: ImageRunConfig = structuredClone(config ?? {});
  if (changes.length === 0) return rc;
  const parsed = parseDockerfile(changes.join('\n'));
  for (const n of parsed.nodes) {
    if (!(VALID_CHANGE_COMMANDS as readonly string[]).includes(n.value)) {
      throw new InvalidArgumentError(`${n.value} is not a valid change command`);
    }
  }
  const commands = parsed.nodes.map(parseCommand);
  let cmdSet = false;
  for (const c of commands) {
    const env = [...(rc.Env ?? [])];
    const expand = expander(env, parsed.escapeToken);
    switch (c.kind) {
      case 'env': {
        const pairs = c.pairs.map(([k, v]) => [expand(k), expand(v)] as const);
        const list = [...(rc.Env ?? [])];
        for (const [k, v] of pairs) {
          const newVar = `${k}=${v}`;
          const i = list.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) list[i] = newVar;
          else list.push(newVar);
        }
        rc.Env = list;
        break;
      }
      case 'label': {
        const labels = { ...(rc.Labels ?? {}) };
        for (const [k, v] of c.pairs) labels[expand(k)] = expand(v);
        rc.Labels = labels;
        break;
      }
      case 'onbuild':
        rc.OnBuild = [...(rc.OnBuild ?? []), c.expression];
        break;
      case 'workdir':
        rc.WorkingDir = normalizeWorkdir(rc.WorkingDir ?? '', expand(c.path));
        break;
      case 'cmd':
      case 'entrypoint': {
        let line = c.cmdLine;
        if (c.prependShell && line !== null) line = [...(rc.Shell?.length ? rc.Shell : DEFAULT_SHELL), ...line];
        delete rc.ArgsEscaped;
        if (c.kind === 'cmd') {
          rc.Cmd = line;
          if (c.cmdLine !== null && c.cmdLine.length > 0) cmdSet = true;
        } else {
          rc.Entrypoint = line;
          if (!cmdSet) rc.Cmd = null;
        }
        break;
      }
      case 'healthcheck':
        rc.Healthcheck = c.health;
        break;
      case 'expose': {
        const ports: string[] = [];
        for (const p of c.ports) {
          try {
            ports.push(...processWords(p, env, parsed.escapeToken));
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message);
          }
        }
        const exposed = { ...(rc.ExposedPorts ?? {}) };
        for (const p of parseExposedPorts(ports)) exposed[p] = {};
        rc.ExposedPorts = exposed;
        break;
      }
      case 'user':
        rc.User = expand(c.user);
        break;
      case 'volume': {
        const vols = { ...(rc.Volumes ?? {}) };
        for (const v of c.volumes) {
          const e = expand(v);
          if (e === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          vols[e] = {};
        }
        rc.Volumes = vols;
        break;
      }
      case 'stopsignal': {
        const sig = expand(c.signal);
        parseSignal(sig);
        rc.StopSignal = sig;
        break;
      }
    }
  }
  return rc;
}

/** Validation Docker applies to a create request's config (validateContainerConfig). */
export function validateContainerConfig(config: ImageRunConfig): void {
  const wd = config.WorkingDir ?? '';
  if (wd !== '' && !wd.startsWith('/')) {
    throw new InvalidArgumentError(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
  }
  if (config.StopSignal) parseSignal(config.StopSignal);
  for (const e of config.Env ?? []) {
    if (e.split('=')[0] === '') throw new InvalidArgumentError(`invalid environment variable: ${e}`);
  }
}

/**
 * Docker's create-time merge of a container's config with its image's (daemon/commit.go merge plus
 * mergeAndVerifyConfig): what `docker inspect` shows as Config. The container wins field by field;
 * Env merges by key (mergeEnv); Labels, ExposedPorts and Volumes merge (container labels win, image
 * volumes added); an Entrypoint left unset (null/undefined) inherits the image's, and only then, if
 * Cmd is empty too, Cmd is inherited; an explicit `[]` entrypoint inherits nothing but the Cmd; an
 * Entrypoint of `[""]` (`--entrypoint ""`) clears it and drops the image's Cmd. Throws
 * InvalidArgumentError `No command specified` when nothing is left to run.
 */
export function mergeConfig(container: ImageRunConfig, image: ImageRunConfig | undefined): ImageRunConfig {
  validateContainerConfig(container);
  const out: ImageRunConfig = structuredClone(container);
  if (image) {
    if (!out.User) out.User = image.User;
    if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) {
      out.ExposedPorts = image.ExposedPorts ? { ...image.ExposedPorts } : out.ExposedPorts;
    } else if (image.ExposedPorts) {
      out.ExposedPorts = { ...image.ExposedPorts, ...out.ExposedPorts };
    }
    out.Env = mergeEnv(out.Env, image.Env);
    out.Labels = { ...(image.Labels ?? {}), ...(out.Labels ?? {}) };
    if (!out.Entrypoint || out.Entrypoint.length === 0) {
      if (!out.Cmd || out.Cmd.length === 0) out.Cmd = image.Cmd ? [...image.Cmd] : image.Cmd;
      if (out.Entrypoint == null) out.Entrypoint = image.Entrypoint ? [...image.Entrypoint] : image.Entrypoint;
    }
    if (image.Healthcheck) {
      if (!out.Healthcheck) out.Healthcheck = structuredClone(image.Healthcheck);
      else {
        const h = out.Healthcheck;
        if (!h.Test || h.Test.length === 0) h.Test = image.Healthcheck.Test;
        if (!h.Interval) h.Interval = image.Healthcheck.Interval;
        if (!h.Timeout) h.Timeout = image.Healthcheck.Timeout;
        if (!h.StartPeriod) h.StartPeriod = image.Healthcheck.StartPeriod;
        if (!h.Retries) h.Retries = image.Healthcheck.Retries;
      }
    }
    if (!out.WorkingDir) out.WorkingDir = image.WorkingDir;
    if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = image.Volumes;
    else out.Volumes = { ...out.Volumes, ...(image.Volumes ?? {}) };
    if (!out.StopSignal) out.StopSignal = image.StopSignal;
  }
  if (out.Entrypoint?.length === 1 && out.Entrypoint[0] === '') out.Entrypoint = null;
  if ((!out.Entrypoint || out.Entrypoint.length === 0) && (!out.Cmd || out.Cmd.length === 0)) {
    throw new InvalidArgumentError('No command specified');
  }
  return out;
}

/** The process a container runs, resolved from image and container config. */
export interface ResolvedProcess {
  /** argv[0]: entrypoint[0], else cmd[0]. */
  path: string;
  /** argv[1..]: the rest of the entrypoint followed by cmd, or the rest of cmd. */
  args: string[];
  /** Final environment (see buildProcessEnv). */
  env: string[];
  /** Working directory, "/" when neither sets one. */
  cwd: string;
  /** The user spec to resolve against the image's passwd/group ("" = root). */
  user: string;
  labels: Record<string, string>;
}

/** Extra inputs of mergeContainerConfig that are not part of the configs. */
export interface ResolveProcessOptions {
  /** HOME for the process (resolveUser(...).home ?? "/"), appended if no env sets HOME. */
  home?: string;
}

/**
 * Resolves what a container runs: mergeConfig, then Docker's getEntrypointAndArgs and
 * CreateDaemonEnvironment. The container's `Hostname` and `Tty` feed HOSTNAME and TERM.
 */
export function mergeContainerConfig(
  image: ImageRunConfig | undefined,
  container: ImageRunConfig,
  opts: ResolveProcessOptions = {},
): ResolvedProcess {
  const merged = mergeConfig(container, image);
  const argv = merged.Entrypoint && merged.Entrypoint.length > 0 ? [...merged.Entrypoint, ...(merged.Cmd ?? [])] : [...merged.Cmd!];
  return {
    path: argv[0],
    args: argv.slice(1),
    env: buildProcessEnv(image?.Env, container.Env, { hostname: container.Hostname ?? '', tty: container.Tty, home: opts.home }),
    cwd: merged.WorkingDir || '/',
    user: merged.User ?? '',
    labels: merged.Labels ?? {},
  };
}
