import { InvalidArgumentError } from '@drydock/errors';
import { goIsSpace, goQuote } from './go-compat';

/**
 * A Dockerfile line parser with the rules of the classic parser Docker 20.10 uses for
 * `commit --change` / `import --change` (buildkit frontend/dockerfile/parser): comments, line
 * continuations, the `# escape=` directive, `--flags`, JSON (exec) versus shell form, and the
 * per-instruction argument splitting (ENV/LABEL name-value rules, ONBUILD sub-commands, HEALTHCHECK).
 * Variable expansion is not done here (see shell-lex.ts), matching Docker's split of the work.
 */

/** One parsed instruction. */
export interface DockerfileNode {
  /** The instruction, lower-cased (`cmd`, `env`, ...); unknown ones are kept with no args. */
  value: string;
  /** The instruction's text as written (continuations joined, comments removed). */
  original: string;
  /** Leading `--name=value` flags. */
  flags: string[];
  /**
   * Arguments as Docker's nodeArgs returns them: JSON elements; or the raw rest as one string
   * (shell form, USER, WORKDIR...); or alternating names and values (ENV, LABEL); for ONBUILD the
   * sub-instruction's name followed by its args; for HEALTHCHECK the type followed by the command.
   */
  args: string[];
  /** True if the command part was written as a JSON array (exec form). */
  json: boolean;
  /** 1-based first and last source line. */
  startLine: number;
  endLine: number;
}

export interface ParsedDockerfile {
  nodes: DockerfileNode[];
  /** The escape character in force (`\` or a backtick). */
  escapeToken: string;
  warnings: string[];
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';
const reWhitespace = /[\t\v\f\r ]+/;

interface LineResult {
  args: string[];
  json: boolean;
}
type LineParser = (rest: string, d: Directives) => LineResult;

class Directives {
  escapeToken = '\\';
  lineContinuation = makeContinuationRegex('\\');
  done = false;
  seen = new Set<string>();

  setEscapeToken(s: string): void {
    if (s !== '`' && s !== '\\') throw new InvalidArgumentError(`invalid escape token '${s}' does not match \` or \\`);
    this.escapeToken = s;
    this.lineContinuation = makeContinuationRegex(s);
  }

  possibleParserDirective(line: string): void {
    if (this.done) return;
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line);
    if (!m) {
      this.done = true;
      return;
    }
    const k = m[1].toLowerCase();
    if (k !== 'escape' && k !== 'syntax') {
      this.done = true;
      return;
    }
    if (this.seen.has(k)) throw new InvalidArgumentError(`only one ${k} parser directive can be used`);
    this.seen.add(k);
    if (k === 'escape') this.setEscapeToken(m[2]);
  }
}

function makeContinuationRegex(tok: string): RegExp {
  const e = '\\' + tok;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimLeftSpace(s: string): string {
  let i = 0;
  const chars = [...s];
  while (i < chars.length && goIsSpace(chars[i])) i++;
  return chars.slice(i).join('');
}

function trimSpace(s: string): string {
  const chars = [...s];
  let a = 0;
  let b = chars.length;
  while (a < b && goIsSpace(chars[a])) a++;
  while (b > a && goIsSpace(chars[b - 1])) b--;
  return chars.slice(a, b).join('');
}

// parseWords: space-separated words with quotes kept (stripped later by the shell lexer).
function parseWords(rest: string, d: Directives): string[] {
  const chars = [...rest];
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos] : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (goIsSpace(ch)) continue;
      phase = 'word';
    }
    if ((phase === 'word' || phase === 'quote') && pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (goIsSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === d.escapeToken) {
        if (pos + 1 === chars.length) continue; // an escape at the end of the line is dropped
        word += ch;
        pos++;
        ch = chars[pos];
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) phase = 'word';
    if (ch === d.escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos];
    }
    word += ch;
  }
  return words;
}

function parseNameVal(rest: string, key: string, d: Directives): LineResult {
  const words = parseWords(rest, d);
  if (words.length === 0) return { args: [], json: false };
  if (!words[0].includes('=')) {
    const m = reWhitespace.exec(rest);
    if (!m) throw new InvalidArgumentError(`${key} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length)], json: false };
  }
  const args: string[] = [];
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) {
      throw new InvalidArgumentError(`Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    }
    args.push(w.slice(0, i), w.slice(i + 1));
  }
  return { args, json: false };
}

const parseIgnore: LineParser = () => ({ args: [], json: false });

const parseString: LineParser = (rest) => ({ args: rest === '' ? [] : [rest], json: false });

const parseStringsWhitespaceDelimited: LineParser = (rest) => ({
  args: rest === '' ? [] : rest.split(/[\t\v\f\r ]+/),
  json: false,
});

const parseNameOrNameVal: LineParser = (rest, d) => ({ args: parseWords(rest, d), json: false });

// End index (exclusive) of the JSON value starting at s[0] === '[', or -1 if it does not close.
function jsonArrayEnd(s: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

class NotJsonError extends Error {}

// parseJSON: like Go's json.Decoder, decodes the first value and ignores anything after it.
function parseJSON(restIn: string): LineResult {
  const rest = trimLeftSpace(restIn);
  if (!rest.startsWith('[')) throw new NotJsonError();
  const end = jsonArrayEnd(rest);
  if (end < 0) throw new NotJsonError();
  let value: unknown;
  try {
    value = JSON.parse(rest.slice(0, end));
  } catch {
    throw new NotJsonError();
  }
  if (!Array.isArray(value)) throw new NotJsonError();
  if (!value.every((v) => typeof v === 'string')) throw new InvalidArgumentError(NOT_STRING_ARRAY);
  return { args: value as string[], json: true };
}

const parseMaybeJSON: LineParser = (rest) => {
  if (rest === '') return { args: [], json: false };
  try {
    return parseJSON(rest);
  } catch (err) {
    if (!(err instanceof NotJsonError)) throw err;
  }
  return { args: [rest], json: false };
};

const parseMaybeJSONToList: LineParser = (rest, d) => {
  try {
    return parseJSON(rest);
  } catch (err) {
    if (!(err instanceof NotJsonError)) throw err;
  }
  return parseStringsWhitespaceDelimited(rest, d);
};

const parseHealthConfig: LineParser = (rest, d) => {
  // Byte-wise like Go's loop over rest[sep].
  let sep = 0;
  while (sep < rest.length && !goIsSpace(rest[sep])) sep++;
  let next = sep;
  while (next < rest.length && goIsSpace(rest[next])) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = parseMaybeJSON(rest.slice(next), d);
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
};

const parseSubCommand: LineParser = (rest, d) => {
  if (rest === '') return { args: [], json: false };
  const child = nodeFromLine(rest, d, 0, 0);
  return { args: [child.value, ...child.args], json: false };
};

const dispatch: Record<string, LineParser> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, d) => parseNameVal(rest, 'ENV', d),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, d) => parseNameVal(rest, 'LABEL', d),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

// extractBuilderFlags: leading `--flag[=value]` words; returns [rest, flags].
function extractBuilderFlags(line: string): [string, string[]] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos] : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (goIsSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return [line.slice(pos), words];
      phase = 'word';
    }
    if ((phase === 'word' || phase === 'quote') && pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (goIsSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return [line.slice(pos), words];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        ch = line[pos];
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = line[pos];
    }
    word += ch;
  }
  return ['', words];
}

function nodeFromLine(line: string, d: Directives, startLine: number, endLine: number): DockerfileNode {
  const trimmed = trimSpace(line);
  const m = reWhitespace.exec(trimmed);
  const cmd = (m ? trimmed.slice(0, m.index) : trimmed).toLowerCase();
  let args = '';
  let flags: string[] = [];
  if (m) [args, flags] = extractBuilderFlags(trimmed.slice(m.index + m[0].length));
  const fn = Object.prototype.hasOwnProperty.call(dispatch, cmd) ? dispatch[cmd] : parseIgnore;
  const res = fn(trimSpace(args), d);
  return { value: cmd, original: line, flags, args: res.args, json: res.json, startLine, endLine };
}

const isComment = (line: string) => trimLeftSpace(line).startsWith('#');

/**
 * Parses Dockerfile text into instructions. Throws InvalidArgumentError with Docker's messages
 * (`file with no instructions`, JSON array errors, ENV/LABEL syntax errors, directive errors).
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const d = new Directives();
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop(); // bufio.Scanner yields no empty final token
  const nodes: DockerfileNode[] = [];
  const warnings: string[] = [];
  let i = 0;
  let currentLine = 0;

  // processLine: optional left trim, a whole-line comment becomes empty, directive detection.
  const processLine = (raw: string, stripLeft: boolean): string => {
    const token = stripLeft ? trimLeftSpace(raw) : raw;
    d.possibleParserDirective(token);
    return token.startsWith('#') ? '' : token;
  };
  const trimContinuation = (line: string): [string, boolean] => {
    if (d.lineContinuation.test(line)) return [line.replace(d.lineContinuation, '$1'), false];
    return [line, true];
  };
  const scan = (): string | undefined => {
    if (i >= lines.length) return undefined;
    let l = lines[i++];
    if (l.endsWith('\r')) l = l.slice(0, -1);
    return l;
  };

  for (let raw = scan(); raw !== undefined; raw = scan()) {
    if (currentLine === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    let processed = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;
    let line: string;
    let isEnd: boolean;
    [line, isEnd] = trimContinuation(processed);
    if (isEnd && line === '') continue;

    let hasEmptyContinuationLine = false;
    while (!isEnd) {
      const next = scan();
      if (next === undefined) break;
      processed = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (trimLeftSpace(processed).length === 0) {
        hasEmptyContinuationLine = true;
        continue;
      }
      let cont: string;
      [cont, isEnd] = trimContinuation(processed);
      line += cont;
    }
    if (hasEmptyContinuationLine) warnings.push('[WARNING]: Empty continuation line found in:\n    ' + line);
    nodes.push(nodeFromLine(line, d, startLine, currentLine));
  }
  if (warnings.length > 0) warnings.push('[WARNING]: Empty continuation lines will become errors in a future release.');
  if (nodes.length === 0) throw new InvalidArgumentError('file with no instructions');
  return { nodes, escapeToken: d.escapeToken, warnings };
}
