import { processWord, processWords } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

const env = ['A=1', 'EMPTY=', 'SP=a b', 'BARE', 'A=2'];

describe('processWord', () => {
  it.each([
    ['plain', 'plain'],
    ['$A', '2'],
    ['${A}x', '2x'],
    ['$A$A', '22'],
    ['$UNSET-', '-'],
    ['${BARE}', ''],
    ['"a  b"', 'a  b'],
    ["'$A'", '$A'],
    ['"$A \\$A \\"q\\" \\n"', '2 $A "q" \\n'],
    ['\\$A', '$A'],
    ['a\\ b', 'a b'],
    ['x\\', 'x'],
    ['${A:-d}', '2'],
    ['${EMPTY:-d}', 'd'],
    ['${UNSET:-d}', 'd'],
    ['${A:+s}', 's'],
    ['${EMPTY:+s}', ''],
    ['${UNSET:+s}', ''],
    ['${A:?boom}', '2'],
    ['${A?boom}', '2'],
    ['$', '$'],
    ['$1x', 'x'],
    ['$$', ''],
    ['${UNSET:-$A}', '2'],
    ['PATH=$PATH:/x', 'PATH=:/x'],
  ])('%s -> %s', (word, out) => {
    expect(processWord(word, env)).toBe(out);
  });

  it.each([
    ['"abc', 'unexpected end of statement while looking for matching double-quote'],
    ["'abc", 'unexpected end of statement while looking for matching single-quote'],
    ['${', "syntax error: missing '}'"],
    ['${A', "missing ':' in substitution"],
    ['${}', 'syntax error: bad substitution'],
    ['${:x}', 'syntax error: bad substitution'],
    ['${A:-x', "syntax error: missing '}'"],
    ['${A:%x}', 'unsupported modifier (%) in substitution'],
    ['${A-x}', "missing ':' in substitution"],
    ['${UNSET:?}', 'UNSET: is not allowed to be unset'],
    ['${EMPTY:?}', 'EMPTY: is not allowed to be empty'],
    ['${UNSET?custom msg}', 'UNSET: custom msg'],
  ])('%s fails', (word, msg) => {
    expect(() => processWord(word, env)).toThrow(exactly(`failed to process ${JSON.stringify(word)}: ${msg}`));
  });

  it('honours the backtick escape token', () => {
    expect(processWord('a`$A\\b', env, '`')).toBe('a$A\\b');
  });
});

describe('processWords', () => {
  it('splits after expansion but not inside quotes', () => {
    expect(processWords('$SP "c d" e', env)).toStrictEqual(['a', 'b', 'c d', 'e']);
    expect(processWords('80 $A', env)).toStrictEqual(['80', '2']);
  });
});
