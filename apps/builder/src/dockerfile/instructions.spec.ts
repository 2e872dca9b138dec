import { parseDockerfile } from '@drydock/oci-spec';
import { parseInstructions } from './instructions';

const parse = (text: string) => parseInstructions(parseDockerfile(text));

describe('parseInstructions', () => {
  it('splits meta ARGs and stages, keeps the original text for Step lines', () => {
    const r = parse('ARG A=1\nFROM busybox AS Build\nRUN echo \\\n  hi\nFROM build\n');
    expect(r.metaArgs.map((a) => a.code)).toEqual(['ARG A=1']);
    expect(r.stages.map((s) => [s.name, s.baseName, s.sourceCode])).toEqual([
      ['build', 'busybox', 'FROM busybox AS Build'],
      ['', 'build', 'FROM build'],
    ]);
    expect(r.stages[0].commands[0]).toMatchObject({ kind: 'run', code: 'RUN echo   hi', cmdLine: ['echo   hi'], prependShell: true });
  });

  it('reports dockerd\'s texts with the line', () => {
    expect(() => parse('FROM busybox\nFOO x\n')).toThrow('dockerfile parse error line 2: unknown instruction: FOO');
    expect(() => parse('FROM a b\n')).toThrow('dockerfile parse error line 1: FROM requires either one or three arguments');
    expect(() => parse('FROM a AS 1x\n')).toThrow('invalid name for build stage: "1x", name can\'t start with a number or contain symbols');
    expect(() => parse('FROM a\nCOPY x\n')).toThrow('COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    expect(() => parse('FROM a\nCOPY --chown a b\n')).toThrow('Missing a value on flag: chown');
    expect(() => parse('FROM a\nRUN --network=host x\n')).toThrow('Unknown flag: network');
    expect(() => parse('FROM a\nSHELL sh -c\n')).toThrow('SHELL requires the arguments to be in JSON form');
    expect(() => parse('RUN x\n')).toThrow('no build stage in current context');
    expect(() => parse('FROM a\nONBUILD FROM b\n')).toThrow("FROM isn't allowed as an ONBUILD trigger");
  });

  it('parses flags, exec form and ARG pairs', () => {
    const [s] = parse('FROM a\nCOPY --from=b --chown=1:2 x y /z/\nCMD ["a", "b"]\nARG X Y=2\nRUN --mount=type=cache true\n').stages;
    expect(s.commands[0]).toMatchObject({ kind: 'copy', from: 'b', chown: '1:2', sourcesAndDest: ['x', 'y', '/z/'] });
    expect(s.commands[1]).toMatchObject({ kind: 'cmd', cmdLine: ['a', 'b'], prependShell: false });
    expect(s.commands[2]).toMatchObject({ kind: 'arg', args: [{ key: 'X' }, { key: 'Y', value: '2' }] });
    expect(s.commands[3]).toMatchObject({ kind: 'run', flagsUsed: ['mount'] });
  });
});
