import { InvalidArgumentError } from '@drydock/errors';
import { parseDockerfile } from './index';

// toThrow(string) matches a substring; Docker's texts are asserted whole.
const exactly = (msg: string) => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

const one = (text: string) => {
  const [n] = parseDockerfile(text).nodes;
  return { value: n.value, args: n.args, json: n.json, flags: n.flags };
};

describe('parseDockerfile', () => {
  it('splits exec and shell forms', () => {
    expect(one('CMD ["echo", "hi there"]')).toStrictEqual({ value: 'cmd', args: ['echo', 'hi there'], json: true, flags: [] });
    expect(one('cmd   echo  "hi"  ')).toStrictEqual({ value: 'cmd', args: ['echo  "hi"'], json: false, flags: [] });
    // Like Go's json.Decoder, text after the array is ignored.
    expect(one('CMD ["a"] trailing')).toStrictEqual({ value: 'cmd', args: ['a'], json: true, flags: [] });
    // Not valid JSON: shell form.
    expect(one('CMD [a, b]')).toStrictEqual({ value: 'cmd', args: ['[a, b]'], json: false, flags: [] });
  });

  it('rejects JSON arrays with non-strings', () => {
    expect(() => parseDockerfile('CMD ["a", 1]')).toThrow(InvalidArgumentError);
    expect(() => parseDockerfile('ENTRYPOINT [["a"]]')).toThrow(exactly('when using JSON array syntax, arrays must be comprised of strings only'));
  });

  it('parses ENV and LABEL in both forms, keeping quotes for the expander', () => {
    expect(one('ENV K some value')).toStrictEqual({ value: 'env', args: ['K', 'some value'], json: false, flags: [] });
    expect(one('ENV A=1 B="two words" C=\\"x')).toStrictEqual({
      value: 'env',
      args: ['A', '1', 'B', '"two words"', 'C', '\\"x'],
      json: false,
      flags: [],
    });
    expect(one('LABEL "a b"=c')).toStrictEqual({ value: 'label', args: ['"a b"', 'c'], json: false, flags: [] });
    expect(() => parseDockerfile('ENV K')).toThrow(exactly('ENV must have two arguments'));
    expect(() => parseDockerfile('LABEL a=1 b')).toThrow(exactly('Syntax error - can\'t find = in "b". Must be of the form: name=value'));
  });

  it('handles ONBUILD, HEALTHCHECK, VOLUME, EXPOSE, USER', () => {
    expect(one('ONBUILD RUN ["make"]')).toStrictEqual({ value: 'onbuild', args: ['run', 'make'], json: false, flags: [] });
    expect(one('HEALTHCHECK --interval=5s CMD curl -f x')).toStrictEqual({
      value: 'healthcheck',
      args: ['CMD', 'curl -f x'],
      json: false,
      flags: ['--interval=5s'],
    });
    expect(one('VOLUME /a  /b')).toStrictEqual({ value: 'volume', args: ['/a', '/b'], json: false, flags: [] });
    expect(one('VOLUME ["/a b"]')).toStrictEqual({ value: 'volume', args: ['/a b'], json: true, flags: [] });
    expect(one('EXPOSE 80 443/tcp')).toStrictEqual({ value: 'expose', args: ['80', '443/tcp'], json: false, flags: [] });
    expect(one('USER  app:app ')).toStrictEqual({ value: 'user', args: ['app:app'], json: false, flags: [] });
    expect(one('FOO bar')).toStrictEqual({ value: 'foo', args: [], json: false, flags: [] });
  });

  it('joins continuation lines and skips comments and blank lines', () => {
    const r = parseDockerfile('# comment\n\nENV A=1 \\\n  B=2\nCMD echo \\\n# inner comment\n  hi');
    expect(r.nodes.map((n) => [n.value, n.args, n.startLine, n.endLine])).toStrictEqual([
      ['env', ['A', '1', 'B', '2'], 3, 4],
      ['cmd', ['echo   hi'], 5, 7],
    ]);
  });

  it('honours the escape directive', () => {
    const r = parseDockerfile('# escape=`\nCMD echo `\n  hi');
    expect(r.escapeToken).toBe('`');
    expect(r.nodes[0].args).toStrictEqual(['echo   hi']);
    expect(() => parseDockerfile('# escape=x\nCMD a')).toThrow(exactly("invalid escape token 'x' does not match ` or \\"));
  });

  it('fails on input without instructions', () => {
    expect(() => parseDockerfile('')).toThrow(exactly('file with no instructions'));
    expect(() => parseDockerfile('# only a comment\n   \n')).toThrow(exactly('file with no instructions'));
  });

  it('collects flags until the first non-flag word', () => {
    expect(one('CMD --a=1 --b "x y"').flags).toStrictEqual(['--a=1', '--b']);
    expect(one('CMD --a=1 --b "x y"').args).toStrictEqual(['"x y"']);
    expect(one('CMD -- --not-a-flag').args).toStrictEqual(['--not-a-flag']);
  });
});
