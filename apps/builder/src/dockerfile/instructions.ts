import { InvalidArgumentError } from '@drydock/errors';
import { goQuote, parseHealthcheckInstruction, type DockerfileNode, type HealthConfig, type ParsedDockerfile } from '@drydock/oci-spec';

/**
 * Typed Dockerfile instructions from parser nodes: buildkit's instructions.Parse as vendored in
 * dockerd 20.10 (flags, argument checks and their error texts), which the classic builder runs.
 */

interface Base {
  /** The instruction as written (continuations joined, trimmed): what `Step N/M :` prints. */
  code: string;
  line: number;
}
export type KeyValue = [string, string];
export type Instruction = Base &
  (
    | { kind: 'env'; env: KeyValue[] }
    | { kind: 'maintainer'; maintainer: string }
    | { kind: 'label'; labels: KeyValue[]; noExpand?: boolean }
    | { kind: 'add'; sourcesAndDest: string[]; chown: string; chmod: string }
    | { kind: 'copy'; sourcesAndDest: string[]; from: string; chown: string; chmod: string }
    | { kind: 'onbuild'; expression: string }
    | { kind: 'workdir'; path: string }
    | { kind: 'run'; cmdLine: string[]; prependShell: boolean; flagsUsed: string[] }
    | { kind: 'cmd'; cmdLine: string[]; prependShell: boolean }
    | { kind: 'entrypoint'; cmdLine: string[] | null; prependShell: boolean }
    | { kind: 'healthcheck'; health: HealthConfig }
    | { kind: 'expose'; ports: string[] }
    | { kind: 'user'; user: string }
    | { kind: 'volume'; volumes: string[] }
    | { kind: 'stopsignal'; signal: string }
    | { kind: 'arg'; args: { key: string; value?: string }[] }
    | { kind: 'shell'; shell: string[] }
  );

export interface Stage {
  /** `AS` name, lower-cased; '' when unnamed. */
  name: string;
  baseName: string;
  /** The FROM line (trimmed): `Step N/M :` text. */
  sourceCode: string;
  platform: string;
  commands: Instruction[];
  line: number;
}

export interface ParsedInstructions {
  stages: Stage[];
  metaArgs: Extract<Instruction, { kind: 'arg' }>[];
}

type FlagType = 'string' | 'bool';

/** BFlags: `--name=value` flags of one instruction, with Docker's texts. */
class BFlags {
  private readonly defs = new Map<string, FlagType>();
  private readonly values = new Map<string, string>();
  readonly used: string[] = [];
  constructor(private readonly args: string[]) {}

  add(name: string, type: FlagType = 'string'): this {
    this.defs.set(name, type);
    return this;
  }

  get(name: string): string {
    return this.values.get(name) ?? '';
  }

  parse(): void {
    for (const raw of this.args) {
      if (!raw.startsWith('--')) throw new InvalidArgumentError(`Arg should start with -- : ${raw}`);
      if (raw === '--') return;
      let arg = raw.slice(2);
      let value = '';
      const i = arg.indexOf('=');
      if (i >= 0) {
        value = arg.slice(i + 1);
        arg = arg.slice(0, i);
      }
      const type = this.defs.get(arg);
      if (!type) throw new InvalidArgumentError(`Unknown flag: ${arg}`);
      if (this.values.has(arg)) throw new InvalidArgumentError(`Duplicate flag specified: ${arg}`);
      if (!this.used.includes(arg)) this.used.push(arg);
      if (type === 'bool') {
        if (i >= 0 && value === '') throw new InvalidArgumentError(`Missing a value on flag: ${arg}`);
        const lower = value.toLowerCase();
        if (lower === '') this.values.set(arg, 'true');
        else if (lower === 'true' || lower === 'false') this.values.set(arg, lower);
        else throw new InvalidArgumentError(`Expecting boolean value for flag ${arg}, not: ${value}`);
      } else {
        if (i < 0) throw new InvalidArgumentError(`Missing a value on flag: ${arg}`);
        this.values.set(arg, value);
      }
    }
  }
}

function kvps(args: string[], cmd: string): KeyValue[] {
  if (args.length === 0) throw new InvalidArgumentError(`${cmd} requires at least one argument`);
  if (args.length % 2 !== 0) throw new InvalidArgumentError(`Bad input to ${cmd}, too many arguments`);
  const out: KeyValue[] = [];
  for (let j = 0; j < args.length; j += 2) {
    if (args[j].length === 0) throw new InvalidArgumentError(`${cmd} names can not be blank`);
    out.push([args[j], args[j + 1]]);
  }
  return out;
}

const exactlyOne = (n: DockerfileNode, cmd: string) => {
  if (n.args.length !== 1) throw new InvalidArgumentError(`${cmd} requires exactly one argument`);
  return n.args[0];
};

/** handleJSONArgs: exec form as is, shell form as one string. */
function jsonArgs(n: DockerfileNode): string[] {
  if (n.args.length === 0) return [];
  return n.json ? [...n.args] : [n.args.join(' ')];
}

function parseInstruction(n: DockerfileNode): Instruction | (Stage & { kind: 'from' }) {
  const base = { code: n.original.trim(), line: n.startLine };
  const flags = new BFlags(n.flags);
  switch (n.value) {
    case 'env':
      flags.parse();
      return { ...base, kind: 'env', env: kvps(n.args, 'ENV') };
    case 'maintainer':
      if (n.args.length !== 1) throw new InvalidArgumentError('MAINTAINER requires exactly one argument');
      flags.parse();
      return { ...base, kind: 'maintainer', maintainer: n.args[0] };
    case 'label':
      flags.parse();
      return { ...base, kind: 'label', labels: kvps(n.args, 'LABEL') };
    case 'add':
    case 'copy': {
      if (n.args.length < 2) throw new InvalidArgumentError(`${n.value.toUpperCase()} requires at least two arguments, but only one was provided. Destination could not be determined`);
      flags.add('chown');
      if (n.value === 'copy') flags.add('from');
      flags.add('chmod');
      flags.parse();
      if (n.value === 'add') return { ...base, kind: 'add', sourcesAndDest: [...n.args], chown: flags.get('chown'), chmod: flags.get('chmod') };
      return { ...base, kind: 'copy', sourcesAndDest: [...n.args], from: flags.get('from'), chown: flags.get('chown'), chmod: flags.get('chmod') };
    }
    case 'from': {
      let name = '';
      if (n.args.length === 3 && n.args[1].toLowerCase() === 'as') {
        name = n.args[2].toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw new InvalidArgumentError(`invalid name for build stage: ${goQuote(n.args[2])}, name can't start with a number or contain symbols`);
      } else if (n.args.length !== 1) {
        throw new InvalidArgumentError('FROM requires either one or three arguments');
      }
      flags.add('platform');
      flags.parse();
      return { kind: 'from', name, baseName: n.args[0], sourceCode: n.original.trim(), platform: flags.get('platform'), commands: [], line: n.startLine };
    }
    case 'onbuild': {
      if (n.args.length === 0) throw new InvalidArgumentError('ONBUILD requires at least one argument');
      flags.parse();
      const trigger = n.args[0].trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new InvalidArgumentError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
      return { ...base, kind: 'onbuild', expression: n.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    case 'workdir': {
      const path = exactlyOne(n, 'WORKDIR');
      flags.parse();
      return { ...base, kind: 'workdir', path };
    }
    case 'run':
      // dockerd 20.10 registers RUN --mount (buildkit's parser hook) and then refuses it as BuildKit-only
      flags.add('mount');
      flags.parse();
      return { ...base, kind: 'run', cmdLine: jsonArgs(n), prependShell: !n.json, flagsUsed: flags.used };
    case 'cmd':
      flags.parse();
      return { ...base, kind: 'cmd', cmdLine: jsonArgs(n), prependShell: !n.json };
    case 'entrypoint': {
      flags.parse();
      const cmd = jsonArgs(n);
      return { ...base, kind: 'entrypoint', cmdLine: cmd.length === 0 ? null : cmd, prependShell: !n.json };
    }
    case 'healthcheck':
      return { ...base, kind: 'healthcheck', health: parseHealthcheckInstruction(n) };
    case 'expose':
      if (n.args.length === 0) throw new InvalidArgumentError('EXPOSE requires at least one argument');
      flags.parse();
      return { ...base, kind: 'expose', ports: [...n.args].sort() };
    case 'user': {
      const user = exactlyOne(n, 'USER');
      flags.parse();
      return { ...base, kind: 'user', user };
    }
    case 'volume': {
      if (n.args.length === 0) throw new InvalidArgumentError('VOLUME requires at least one argument');
      flags.parse();
      const volumes = n.args.map((v) => v.trim());
      if (volumes.includes('')) throw new InvalidArgumentError('VOLUME specified can not be an empty string');
      return { ...base, kind: 'volume', volumes };
    }
    case 'stopsignal':
      // instructions.parseStopSignal never parses its flags
      return { ...base, kind: 'stopsignal', signal: exactlyOne(n, 'STOPSIGNAL') };
    case 'arg': {
      if (n.args.length < 1) throw new InvalidArgumentError('ARG requires at least one argument');
      return {
        ...base,
        kind: 'arg',
        args: n.args.map((a) => {
          const i = a.indexOf('=');
          if (i < 0) return { key: a };
          if (i === 0) throw new InvalidArgumentError('ARG names can not be blank');
          return { key: a.slice(0, i), value: a.slice(i + 1) };
        }),
      };
    }
    case 'shell': {
      flags.parse();
      const shell = jsonArgs(n);
      if (shell.length === 0) throw new InvalidArgumentError('SHELL requires at least one argument');
      if (!n.json) throw new InvalidArgumentError(`SHELL requires the arguments to be in JSON form`);
      return { ...base, kind: 'shell', shell };
    }
  }
  throw new UnknownInstructionError(n.value);
}

export class UnknownInstructionError extends InvalidArgumentError {
  constructor(instruction: string) {
    super(`unknown instruction: ${instruction.toUpperCase()}`);
  }
}

/** One instruction outside of a Dockerfile's stage structure (ONBUILD triggers). */
export function parseCommand(n: DockerfileNode): Instruction {
  const c = parseInstruction(n);
  if (c.kind === 'from') throw new InvalidArgumentError('*instructions.Stage is not a command type');
  return c;
}

/** instructions.Parse: stages and the ARGs before the first FROM; errors say which line. */
export function parseInstructions(df: ParsedDockerfile): ParsedInstructions {
  const stages: Stage[] = [];
  const metaArgs: ParsedInstructions['metaArgs'] = [];
  for (const n of df.nodes) {
    let c: ReturnType<typeof parseInstruction>;
    try {
      c = parseInstruction(n);
    } catch (err) {
      throw new InvalidArgumentError(`dockerfile parse error line ${n.startLine}: ${(err as Error).message}`, { cause: err });
    }
    if (stages.length === 0 && c.kind === 'arg') {
      metaArgs.push(c);
      continue;
    }
    if (c.kind === 'from') {
      const { kind: _k, ...stage } = c;
      stages.push(stage);
      continue;
    }
    if (stages.length === 0) throw new InvalidArgumentError('no build stage in current context');
    stages[stages.length - 1].commands.push(c);
  }
  return { stages, metaArgs };
}
