import type { supervisorV1 } from '@drydock/proto';
import { errorCode, NotFoundError } from '@drydock/errors';
import { mergeVolumesFrom, parseVolumesFrom, type VolumesFromSource } from './volumes-from';

const vol = (source: string, target: string, over: Partial<supervisorV1.Mount> = {}): supervisorV1.Mount => ({ type: 'volume', source, target, readOnly: false, options: '', ...over });
const bind = (source: string, target: string, readOnly = false): supervisorV1.Mount => ({ type: 'bind', source, target, readOnly, options: '' });

describe('parseVolumesFrom (dockerd linux_parser ParseVolumesFrom)', () => {
  it('takes the container and an optional ro/rw mode', () => {
    expect(parseVolumesFrom('data')).toEqual({ ref: 'data', readWrite: true });
    expect(parseVolumesFrom('data:rw')).toEqual({ ref: 'data', readWrite: true });
    expect(parseVolumesFrom('data:ro')).toEqual({ ref: 'data', readWrite: false });
    expect(parseVolumesFrom('data:ro,z')).toEqual({ ref: 'data', readWrite: false });
    expect(parseVolumesFrom('data:')).toEqual({ ref: 'data', readWrite: true });
  });

  it("refuses what dockerd refuses, with dockerd's texts", () => {
    expect(() => parseVolumesFrom('')).toThrow('volumes-from specification cannot be an empty string');
    expect(() => parseVolumesFrom('data:bogus')).toThrow('invalid mode: bogus');
    expect(() => parseVolumesFrom('data:ro,rw')).toThrow('invalid mode: ro,rw');
    // valid in -v, refused here: the copy keeps the source's propagation and copy behaviour
    expect(() => parseVolumesFrom('data:rshared')).toThrow('invalid mode: rshared');
    expect(() => parseVolumesFrom('data:nocopy')).toThrow('invalid mode: nocopy');
    expect(errorCode(catchErr(() => parseVolumesFrom('data:x')))).toBe('INVALID_ARGUMENT');
  });
});

describe('mergeVolumesFrom (dockerd registerMountPoints)', () => {
  const containers: Record<string, VolumesFromSource> = {
    data: { id: 'a'.repeat(64), mounts: [vol('shared', '/data'), vol('f'.repeat(64), '/anon'), bind('/srv/ro', '/etc/conf', true)] },
    other: { id: 'b'.repeat(64), mounts: [vol('other', '/data'), vol('extra', '/extra')] },
  };
  const resolve = (ref: string) => {
    const c = containers[ref];
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  };

  it('copies every mount of the source, marked with its id, keeping each mode', () => {
    const out = mergeVolumesFrom([], ['data'], resolve);
    expect(out).toEqual([
      vol('shared', '/data', { volumesFrom: 'a'.repeat(64), configVolume: false }),
      vol('f'.repeat(64), '/anon', { volumesFrom: 'a'.repeat(64), configVolume: false }),
      { ...bind('/srv/ro', '/etc/conf', true), volumesFrom: 'a'.repeat(64), configVolume: false },
    ]);
  });

  it(':ro makes every copy read-only; :rw does not make a read-only one writable', () => {
    expect(mergeVolumesFrom([], ['data:ro'], resolve).map((m) => m.readOnly)).toEqual([true, true, true]);
    expect(mergeVolumesFrom([], ['data:rw'], resolve).map((m) => m.readOnly)).toEqual([false, false, true]);
  });

  it("the container's own binds and mounts win at a destination; a later source replaces an earlier one", () => {
    const own = [bind('/host', '/data/')];
    const out = mergeVolumesFrom(own, ['data', 'other'], resolve);
    expect(out.map((m) => [m.target, m.source])).toEqual([
      ['/anon', 'f'.repeat(64)],
      ['/etc/conf', '/srv/ro'],
      ['/extra', 'extra'],
      ['/data/', '/host'],
    ]);
    expect(out.find((m) => m.target === '/extra')?.volumesFrom).toBe('b'.repeat(64));
    expect(out.find((m) => m.target === '/data/')?.volumesFrom).toBeUndefined();
  });

  it('a Config.Volumes anonymous volume is made only where no copied mount is', () => {
    const own = [vol('1'.repeat(64), '/data', { configVolume: true }), vol('2'.repeat(64), '/fresh', { configVolume: true })];
    const out = mergeVolumesFrom(own, ['data'], resolve);
    expect(out.find((m) => m.target === '/data')?.source).toBe('shared');
    expect(out.find((m) => m.target === '/fresh')?.source).toBe('2'.repeat(64));
    expect(out).toHaveLength(4);
  });

  it("a missing source is dockerd's 400 with the lookup's text", () => {
    const err = catchErr(() => mergeVolumesFrom([], ['data', 'missing'], resolve));
    expect((err as Error).message).toBe('No such container: missing');
    expect(errorCode(err)).toBe('INVALID_ARGUMENT');
  });

  it('leaves the mounts alone without entries', () => {
    const own = [vol('1'.repeat(64), '/data', { configVolume: true })];
    expect(mergeVolumesFrom(own, [], resolve)).toBe(own);
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}
