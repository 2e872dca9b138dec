import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '@drydock/errors';
import { loadNodeIdentity, parseNodeLabels } from './node-identity';

describe('parseNodeLabels', () => {
  it('parses k=v pairs, keeping = inside values and skipping empty items', () => {
    expect(parseNodeLabels('zone=eu-1, disk=ssd,,expr=a=b')).toEqual({ zone: 'eu-1', disk: 'ssd', expr: 'a=b' });
    expect(parseNodeLabels(undefined)).toEqual({});
    expect(parseNodeLabels('')).toEqual({});
  });

  it.each(['novalue', '=v', 'a b=c', 'k=1,k=2'])('rejects %j with InvalidArgument', (text) => {
    let err: unknown;
    try {
      parseNodeLabels(text);
    } catch (e) {
      err = e;
    }
    expect(errorCode(err)).toBe('INVALID_ARGUMENT');
  });

  it('accepts a key repeated with the same value', () => {
    expect(parseNodeLabels('k=1,k=1')).toEqual({ k: '1' });
  });
});

describe('loadNodeIdentity', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'node-id-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a uuid once and reads the same one back', async () => {
    const state = join(dir, 'nested', 'state');
    const a = await loadNodeIdentity(state, undefined, 'zone=a');
    expect(a.nodeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a.name).toBe(hostname());
    expect(a.labels).toEqual({ zone: 'a' });
    expect(readFileSync(join(state, 'node-id'), 'utf8').trim()).toBe(a.nodeId);
    const b = await loadNodeIdentity(state, 'n1');
    expect(b).toEqual({ nodeId: a.nodeId, name: 'n1', labels: {} });
  });

  it('agrees on one id when started concurrently', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => loadNodeIdentity(dir)));
    expect(new Set(ids.map((i) => i.nodeId)).size).toBe(1);
  });

  it('refuses a corrupt node-id file instead of replacing it', async () => {
    writeFileSync(join(dir, 'node-id'), 'garbage\n');
    await expect(loadNodeIdentity(dir)).rejects.toThrow(/does not hold a UUID/);
  });
});
