import { goIsSpace, goQuote } from './go-compat';

/**
 * The Dockerfile word processor (buildkit frontend/dockerfile/shell, as vendored in Docker 20.10):
 * quote removal, escapes and `$VAR` / `${VAR}` / `${VAR:-x}` / `${VAR:+x}` / `${VAR:?x}` /
 * `${VAR?x}` expansion against an environment. Used for ENV, LABEL, USER, WORKDIR, VOLUME,
 * STOPSIGNAL and EXPOSE arguments.
 */

const EOF = -1;

/** Builds the lookup map from `KEY=value` entries (later entries win; `KEY` alone means ""). */
export function buildEnvMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

const isSpace = goIsSpace;
const isDigit = (c: string) => /^\p{Nd}$/u.test(c);
const isLetter = (c: string) => /^\p{L}$/u.test(c);
const isSpecialParam = (c: string) => '@*#?-$!0'.includes(c) && c.length === 1;

class Words {
  word = '';
  words: string[] = [];
  inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;

  constructor(
    source: string,
    private readonly env: Map<string, string>,
    private readonly escapeToken: string,
  ) {
    this.chars = [...source];
  }

  private peek(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos] : EOF;
  }

  private next(): string | typeof EOF {
    return this.pos < this.chars.length ? this.chars[this.pos++] : EOF;
  }

  processStopOn(stopChar: string | typeof EOF): [string, string[]] {
    let result = '';
    const words = new Words();
    while (this.peek() !== EOF) {
      const ch = this.peek() as string;
      if (stopChar !== EOF && ch === stopChar) {
        this.next();
        return [result, words.getWords()];
      }
      if (ch === "'" || ch === '"' || ch === '$') {
        const tmp = ch === "'" ? this.singleQuote() : ch === '"' ? this.doubleQuote() : this.dollar();
        result += tmp;
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
        continue;
      }
      let c = this.next() as string;
      if (c === this.escapeToken) {
        const n = this.next();
        if (n === EOF) break;
        c = n;
        words.addRawChar(c);
      } else {
        words.addChar(c);
      }
      result += c;
    }
    if (stopChar !== EOF) throw new Error(`unexpected end of statement while looking for matching ${stopChar}`);
    return [result, words.getWords()];
  }

  private singleQuote(): string {
    this.next();
    let result = '';
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  private doubleQuote(): string {
    this.next();
    let result = '';
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.next();
        return result;
      }
      if (p === '$') {
        result += this.dollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === this.escapeToken) {
        const n = this.peek();
        if (n === EOF) continue; // a trailing escape is dropped
        if (n === '"' || n === '$' || n === this.escapeToken) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      return this.env.get(name) ?? '';
    }
    this.next();
    const p = this.peek();
    if (p === EOF) throw new Error("syntax error: missing '}'");
    if (p === '{' || p === '}' || p === ':') throw new Error('syntax error: bad substitution');
    const name = this.processName();
    const ch = this.next();
    if (ch === '}') return this.env.get(name) ?? '';
    if (ch === '?') {
      const word = this.stopOnBrace();
      const v = this.env.get(name);
      if (v === undefined) throw new Error(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
      return v;
    }
    if (ch === ':') {
      const modifier = this.next();
      const word = this.stopOnBrace();
      const found = this.env.get(name);
      const value = found ?? '';
      switch (modifier) {
        case '+':
          return value !== '' ? word : value;
        case '-':
          return value === '' ? word : value;
        case '?':
          if (found === undefined) throw new Error(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
          if (value === '') throw new Error(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
          return value;
        default:
          throw new Error(`unsupported modifier (${modifier === EOF ? '' : modifier}) in substitution`);
      }
    }
    throw new Error("missing ':' in substitution");
  }

  private stopOnBrace(): string {
    try {
      return this.processStopOn('}')[0];
    } catch (err) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
      throw err;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek() as string;
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek() as string)) name += this.next();
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.next() as string;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }
}

function run(word: string, env: readonly string[], escapeToken: string): [string, string[]] {
  try {
    return new ShellWord(word, buildEnvMap(env), escapeToken).processStopOn(EOF);
  } catch (err) {
    throw new Error(`failed to process ${goQuote(word)}: ${(err as Error).message}`);
  }
}

/** Expands one word (quotes removed, variables substituted, inner spaces kept). */
export function processWord(word: string, env: readonly string[], escapeToken = '\\'): string {
  return run(word, env, escapeToken)[0];
}

/** Expands and then splits on unquoted whitespace (EXPOSE's multi-word expansion). */
export function processWords(word: string, env: readonly string[], escapeToken = '\\'): string[] {
  return run(word, env, escapeToken)[1];
}
