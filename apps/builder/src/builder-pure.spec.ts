import { compareConfigs } from './cache/image-cache';
import { BuildArgs } from './dockerfile/build-args';
import { goDuration, goQuoteHealth } from './dockerfile/go-format';
import { containsWildcards, pathMatch } from './dockerfile/path-match';
import { normalizeDest, registryAuthFor } from './dockerfile/dispatcher';
import { OrderedOutput, ReplayFilter } from './output/ordered-output';
import { readDockerignore } from './worker/build-runner';
import type { OutputEntry } from '@drydock/build-jobs';

describe('legacy cache key (compare.go)', () => {
  it('compares Cmd, Env, Labels, ports, entrypoint, volumes, user; not WorkingDir or Healthcheck', () => {
    const a = { Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV a=b'], Env: ['PATH=/x'], Labels: { l: '1' }, WorkingDir: '/a' };
    expect(compareConfigs(a, { ...a, WorkingDir: '/b', Healthcheck: { Test: ['NONE'] } })).toBe(true);
    expect(compareConfigs(a, { ...a, Env: ['PATH=/y'] })).toBe(false);
    expect(compareConfigs(a, { ...a, Labels: { l: '2' } })).toBe(false);
    expect(compareConfigs(a, { ...a, User: 'u' })).toBe(false);
    expect(compareConfigs(a, { ...a, OpenStdin: true })).toBe(false);
    expect(compareConfigs(a, { ...a, Cmd: null })).toBe(false);
  });
});

describe('BuildArgs', () => {
  it('filters allowed args, uses --build-arg over defaults and meta values, warns on unused ones', () => {
    const b = new BuildArgs({ V: 'given', UNUSED: '1', HTTP_PROXY: 'p', N: null });
    b.addMetaArg('M', 'meta');
    b.addArg('V', 'default');
    b.addArg('M', undefined);
    b.addArg('D', 'd');
    expect(b.filterAllowed(['D=env'])).toEqual(['HTTP_PROXY=p', 'M=meta', 'V=given']);
    expect(b.isReferencedOrNotBuiltin('HTTP_PROXY')).toBe(false);
    expect(b.unusedWarning()).toBe('[Warning] One or more build-args [N UNUSED] were not consumed\n');
  });
});

describe('Go formats', () => {
  it('prints durations and HEALTHCHECK as dockerd\'s %q', () => {
    expect(goDuration(0)).toBe('0s');
    expect(goDuration(90e9)).toBe('1m30s');
    expect(goDuration(3600e9)).toBe('1h0m0s');
    expect(goDuration(1.5e9)).toBe('1.5s');
    expect(goDuration(500e6)).toBe('500ms');
    expect(goQuoteHealth({ Test: ['CMD-SHELL', 'curl -f x || exit 1'], Interval: 300e9, Timeout: 3e9 })).toBe('&{["CMD-SHELL" "curl -f x || exit 1"] "5m0s" "3s" "0s" \'\\x00\'}');
  });
});

describe('paths', () => {
  it('matches like filepath.Match and normalizes COPY destinations', () => {
    expect(pathMatch('*.txt', 'a.txt')).toBe(true);
    expect(pathMatch('*.txt', 'd/a.txt')).toBe(false);
    expect(pathMatch('d/?.t[xy]t', 'd/a.tyt')).toBe(true);
    expect(containsWildcards('a\\*b')).toBe(false);
    expect(containsWildcards('a[b')).toBe(true);
    expect(normalizeDest('/app', 'sub/')).toBe('/app/sub/');
    expect(normalizeDest('', '.')).toBe('/');
    expect(normalizeDest('/w', '/abs')).toBe('/abs');
  });
  it('reads .dockerignore like dockerignore.ReadAll', () => {
    expect(readDockerignore('# c\n /a/b/ \n!./x\n\nd/../e\n')).toEqual(['a/b', '!x', 'e']);
  });
  it('picks the X-Registry-Config entry of the image\'s registry', () => {
    const c = { '127.0.0.1:5000': { username: 'u' }, 'https://index.docker.io/v1/': { username: 'hub' } };
    expect(JSON.parse(Buffer.from(registryAuthFor('127.0.0.1:5000/a/b', c), 'base64url').toString())).toEqual({ username: 'u' });
    expect(JSON.parse(Buffer.from(registryAuthFor('busybox', c), 'base64url').toString())).toEqual({ username: 'hub' });
    expect(registryAuthFor('quay.io/x', c)).toBe('');
  });
});

describe('output order and replay', () => {
  it('writes segments in order whatever order they finish in, and drops discarded ones', async () => {
    const got: string[] = [];
    const out = new OrderedOutput(async (e) => void got.push((e as unknown as { msg: { stream: string } }).msg.stream));
    const a = out.stepOutput(0);
    const b = out.stepOutput(1);
    const c = out.stepOutput(2);
    await c.stdout('c');
    await b.stdout('b');
    await a.stdout('a');
    out.discard(2);
    await out.close(1);
    expect(got).toEqual(['a']);
    await out.close(0);
    expect(got).toEqual(['a', 'b']);
  });

  it('a resumed job skips finished steps and the interrupted step\'s Step line', () => {
    const m = (step: number, extra: Partial<OutputEntry> = {}, stream = 'x'): OutputEntry => ({ kind: 'msg', step, msg: { stream }, ...extra }) as OutputEntry;
    const f = new ReplayFilter([m(1, { stepLine: true } as never), m(1, { stepDone: true } as never), m(2, { stepLine: true } as never), m(2)]);
    expect(f.pass(m(1, { stepLine: true } as never))).toBe(false);
    expect(f.pass(m(1))).toBe(false);
    expect(f.pass(m(2, { stepLine: true } as never))).toBe(false);
    expect(f.pass(m(2))).toBe(true);
    expect(f.pass(m(3, { stepLine: true } as never))).toBe(true);
    expect(new ReplayFilter([]).pass(m(1))).toBe(true);
  });
});
