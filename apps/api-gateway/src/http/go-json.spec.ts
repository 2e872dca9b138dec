import { decodeGo, goBool, goInt, goMap, goString, goStruct, parseGoJson, parseGoJsonWhole } from './go-json';
import { FilterArgs } from './query';

const parse = (t: string) => parseGoJson(Buffer.from(t));
const syntax = (t: string) => {
  try {
    parse(t);
  } catch (err) {
    return (err as Error).message;
  }
  return 'parsed';
};

describe('parseGoJson', () => {
  it('keeps number literals, key order and duplicates', () => {
    expect(parse('{"b": 1e3, "a": -0.5, "b": 2}')).toMatchObject({ t: 'obj', entries: [['b', { t: 'num', raw: '1e3' }], ['a', { t: 'num', raw: '-0.5' }], ['b', { t: 'num', raw: '2' }]] });
  });
  it('decodes escapes like Go: pairs joined, lone surrogates replaced', () => {
    expect(parse('"a\\u00e9\\ud83d\\ude00\\ud800x\\n"')).toMatchObject({ t: 'str', v: 'aé😀\ufffdx\n' });
    expect(parse(Buffer.from('"caf\u00e9"').toString())).toMatchObject({ v: 'café' });
  });
  it("speaks Go's scanner", () => {
    expect(syntax('')).toBe('EOF');
    expect(syntax('   ')).toBe('EOF');
    expect(syntax('{"a":')).toBe('unexpected EOF');
    expect(syntax('[1,2')).toBe('unexpected EOF');
    expect(syntax('-')).toBe('unexpected EOF');
    expect(syntax('-x')).toBe("invalid character 'x' in numeric literal");
    expect(syntax('fals_')).toBe("invalid character '_' in literal false (expecting 'e')");
    expect(syntax('\u0001')).toBe("invalid character '\\x01' looking for beginning of value");
  });
  it('refuses nesting deeper than Go does, without overflowing the stack', () => {
    expect(syntax('['.repeat(10000) + ']'.repeat(10000))).toBe('parsed');
    expect(syntax('['.repeat(10001))).toBe("invalid character '[' exceeded max depth");
  });
  it('as json.Unmarshal, only whitespace may follow', () => {
    expect(() => parseGoJsonWhole(Buffer.from('{} x'))).toThrow("invalid character 'x' after top-level value");
    expect(parseGoJsonWhole(Buffer.from('{} \n'))).toMatchObject({ t: 'obj' });
  });
});

describe('Go types', () => {
  const t = goStruct('T', 'pkg.T', { Name: goString(), On: goBool(), N: goInt('int64'), M: goMap(goString()), Sub: goStruct('Sub', 'pkg.Sub', { A: goInt('uint16'), B: goString() }) });
  const dec = (s: string) => decodeGo(t, parse(s));
  it('merges a repeated struct key, and the exact key beats a folded one', () => {
    expect(dec('{"Sub": {"A": 1}, "sub": {"B": "x"}}')).toEqual({ Sub: { A: 1n, B: 'x' } });
    expect(dec('{"name": "folded", "Name": "exact"}')).toEqual({ Name: 'exact' });
  });
  it('null unsets a map, leaves scalars alone', () => {
    expect(dec('{"M": {"a": "b"}, "M": null, "On": true, "On": null}')).toEqual({ On: true });
  });
  it('map keys such as __proto__ stay plain keys', () => {
    const v = dec('{"M": {"__proto__": "x"}}');
    expect(Object.keys(v!.M!)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
  it('int64 keeps every digit', () => {
    expect(dec('{"N": 9223372036854775807}')).toEqual({ N: 9223372036854775807n });
    expect(() => dec('{"N": 9223372036854775808}')).toThrow('json: cannot unmarshal number 9223372036854775808 into Go struct field T.N of type int64');
  });
});

describe('FilterArgs.fromJson', () => {
  // recorded from dockerd 20.10.24 (GET /containers/json?filters=...; dockerd answers 500, Drydock 400)
  it.each([
    ['x', "invalid character 'x' looking for beginning of value"],
    ['{"status": 5}', 'json: cannot unmarshal number into Go value of type map[string]bool'],
    ['{"label": {"a": "yes"}}', 'json: cannot unmarshal string into Go value of type bool'],
    ['{"a": {"b": true}} x', "invalid character 'x' after top-level value"],
  ])('%s', (text, message) => {
    expect(() => FilterArgs.fromJson(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message }));
  });
  it('reads both forms', () => {
    expect(FilterArgs.fromJson('{"label": {"a=b": true}, "name": {"x": false}}').get('name')).toEqual(['x']);
    expect(FilterArgs.fromJson('{"label": ["a=b", "c"]}').get('label')).toEqual(['a=b', 'c']);
    expect(FilterArgs.fromJson('null').keys()).toEqual([]);
  });
});
