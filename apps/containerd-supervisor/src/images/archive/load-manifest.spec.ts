import { ArchiveTree } from './archive-tree';
import { goSyntaxError } from './go-json-decode';
import { parseLoadConfig, parseManifest } from './load-manifest';

/** Texts as Docker 20.10.24 printed them for the same inputs (checked against the reference engine). */
describe('manifest.json and config checks in Go\'s words', () => {
  const m = (s: string) => () => parseManifest(Buffer.from(s));
  const c = (s: string) => () => parseLoadConfig(Buffer.from(s));

  it('syntax errors', () => {
    expect(m('{not json')).toThrow("invalid character 'n' looking for beginning of object key string");
    expect(c('nope')).toThrow("invalid character 'o' in literal null (expecting 'u')");
    expect(goSyntaxError(Buffer.from('[1,'), true)).toBe('unexpected EOF');
    expect(goSyntaxError(Buffer.from('[1,'), false)).toBe('unexpected end of JSON input');
    expect(goSyntaxError(Buffer.from('{"a" 1}'), false)).toBe("invalid character '1' after object key");
    expect(goSyntaxError(Buffer.from('[1 2]'), false)).toBe("invalid character '2' after array element");
    expect(goSyntaxError(Buffer.from('{} x'), false)).toBe("invalid character 'x' after top-level value");
    expect(goSyntaxError(Buffer.from(''), true)).toBe('EOF');
    expect(goSyntaxError(Buffer.from('"a\u0001"'), false)).toBe("invalid character '\\x01' in string literal");
  });

  it('type errors', () => {
    expect(m('{"Config":"x"}')).toThrow('json: cannot unmarshal object into Go value of type []tarexport.manifestItem');
    expect(m('[{"Config":5}]')).toThrow('json: cannot unmarshal number into Go struct field manifestItem.Config of type string');
    expect(m('[{"Layers":"l/layer.tar"}]')).toThrow('json: cannot unmarshal string into Go struct field manifestItem.Layers of type []string');
    expect(c('{"os":"linux"}')).toThrow('invalid image JSON, no RootFS key');
    expect(c('{"rootfs":{"diff_ids":[1]}}')).toThrow('json: cannot unmarshal number into Go struct field RootFS.rootfs.diff_ids of type layer.DiffID');
    expect(c('{"os":"windows","rootfs":{}}')).toThrow('cannot load windows image on linux');
    expect(c('{"rootfs":{"diff_ids":[]},"history":[{}]}')).toThrow('too many non-empty layers in History section');
  });

  it('reads fields as Go does: any case, null as empty, trailing data after the manifest ignored', () => {
    expect(parseManifest(Buffer.from('[{"config":"a.json","repotags":null,"LAYERS":["l/layer.tar"]}] trailing'))).toEqual([{ config: 'a.json', repoTags: [], layers: ['l/layer.tar'] }]);
    expect(parseManifest(Buffer.from('null'))).toEqual([]);
    expect(parseLoadConfig(Buffer.from('{"rootfs":{"diff_ids":["sha256:a"]},"config":{"Labels":{"a":"b"}},"history":[{"empty_layer":true},{}]}'))).toEqual({ os: '', diffIds: ['sha256:a'], nonEmptyHistory: 1, labels: { a: 'b' } });
  });
});

describe('ArchiveTree', () => {
  const tree = new ArchiveTree<string>();
  tree.set('./a/layer.tar', { kind: 'file', file: 'A' });
  tree.set('b/layer.tar', { kind: 'symlink', target: '../a/layer.tar' });
  tree.set('c', { kind: 'symlink', target: '/a' });
  tree.set('d', { kind: 'symlink', target: '../../../a' });

  it('follows symlinks inside the archive as moby\'s FollowSymlinkInScope', () => {
    expect(tree.file('a/layer.tar')).toBe('A');
    expect(tree.file('b/layer.tar')).toBe('A');
    expect(tree.file('/c/layer.tar')).toBe('A');
    // .. in a link target stops at the archive's root
    expect(tree.file('d/layer.tar')).toBe('A');
    expect(tree.file('nosuch')).toBeUndefined();
  });

  it('refuses a path that climbs out before any link', () => {
    expect(() => tree.file('../a/layer.tar')).toThrow('evalSymlinksInScope: ../a/layer.tar is not in the archive');
  });

  it('stops a symlink loop', () => {
    const t = new ArchiveTree<string>();
    t.set('x', { kind: 'symlink', target: 'y' });
    t.set('y', { kind: 'symlink', target: 'x' });
    expect(() => t.file('x')).toThrow('too many links');
  });
});
