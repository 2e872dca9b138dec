import { FailedPreconditionError } from '@drydock/errors';
import { normalizeTagged, parseReference } from '@drydock/oci-spec';
import { isImageIdPrefix, isSingleReference, planRemoval, untaggedRecords, type RemovalInput } from './removal';

const ID = 'sha256:' + 'ab'.repeat(32);
const CTR = 'cd'.repeat(32);
const DIGEST = 'sha256:' + 'ef'.repeat(32);
const ref = (s: string) => normalizeTagged(s);
const none = { running: false, containerIds: [] };
const stopped = { running: false, containerIds: [CTR] };
const running = { running: true, containerIds: [CTR] };

/** References as strings, so plans compare by value. */
const show = (p: { untag: { toString(): string }[]; deleteImage: boolean; keepDangling: boolean }) => ({ ...p, untag: p.untag.map(String) });

function input(over: Partial<RemovalInput>): RemovalInput {
  return { imageId: ID, given: 'busybox', references: [ref('busybox')], force: false, usage: none, ...over };
}

describe('isSingleReference', () => {
  it('follows moby', () => {
    expect(isSingleReference([])).toBe(false);
    expect(isSingleReference([ref('a')])).toBe(true);
    expect(isSingleReference([ref('a'), ref('b')])).toBe(false);
    expect(isSingleReference([ref('a'), parseReference(`a@${DIGEST}`)])).toBe(true);
    expect(isSingleReference([ref('a'), parseReference(`b@${DIGEST}`)])).toBe(false);
  });
});

describe('isImageIdPrefix', () => {
  it('matches with and without the algorithm', () => {
    expect(isImageIdPrefix(ID, 'abab')).toBe(true);
    expect(isImageIdPrefix(ID, 'sha256:abab')).toBe(true);
    expect(isImageIdPrefix(ID, 'busybox')).toBe(false);
  });
});

describe('planRemoval', () => {
  it('untags only the given name when others remain', () => {
    const plan = planRemoval(input({ named: ref('busybox'), references: [ref('busybox'), ref('mine:1')] }));
    expect(show(plan)).toEqual({ untag: ['docker.io/library/busybox:latest'], deleteImage: false, keepDangling: false });
    expect(untaggedRecords(plan)).toEqual(['busybox:latest']);
  });

  it('deletes the image with its last name', () => {
    expect(show(planRemoval(input({ named: ref('busybox') })))).toEqual({ untag: ['docker.io/library/busybox:latest'], deleteImage: true, keepDangling: false });
  });

  it('takes digest references of the repository along with its last tag', () => {
    const dig = parseReference(`busybox@${DIGEST}`);
    const plan = planRemoval(input({ named: ref('busybox'), references: [ref('busybox'), dig] }));
    expect(untaggedRecords(plan)).toEqual(['busybox:latest', `busybox@${DIGEST}`]);
    expect(plan.deleteImage).toBe(true);
  });

  it('refuses to untag the last name of an image a container uses', () => {
    expect(() => planRemoval(input({ named: ref('busybox'), usage: stopped }))).toThrow(
      new FailedPreconditionError(`conflict: unable to remove repository reference "busybox" (must force) - container cdcdcdcdcdcd is using its referenced image abababababab`),
    );
  });

  it('with force, untags but keeps an image a running container uses', () => {
    expect(show(planRemoval(input({ named: ref('busybox'), usage: running, force: true })))).toEqual({ untag: ['docker.io/library/busybox:latest'], deleteImage: false, keepDangling: true });
  });

  it('with force, deletes an image a stopped container uses', () => {
    expect(planRemoval(input({ named: ref('busybox'), usage: stopped, force: true })).deleteImage).toBe(true);
  });

  it('by id with several names needs force', () => {
    const refs = [ref('busybox'), ref('mine:1')];
    expect(() => planRemoval(input({ given: 'abab', references: refs }))).toThrow(
      'conflict: unable to delete abababababab (must be forced) - image is referenced in multiple repositories',
    );
    const plan = planRemoval(input({ given: 'abab', references: refs, force: true }));
    expect(untaggedRecords(plan)).toEqual(['busybox:latest', 'mine:1']);
    expect(plan.deleteImage).toBe(true);
  });

  it('by id, a stopped container blocks unless forced', () => {
    expect(() => planRemoval(input({ given: ID, usage: stopped }))).toThrow(
      'conflict: unable to delete abababababab (must be forced) - image is being used by stopped container cdcdcdcdcdcd',
    );
    expect(planRemoval(input({ given: ID, usage: stopped, force: true })).deleteImage).toBe(true);
  });

  it('by id, a running container blocks even when forced', () => {
    for (const force of [false, true]) {
      expect(() => planRemoval(input({ given: ID, usage: running, force }))).toThrow(
        'conflict: unable to delete abababababab (cannot be forced) - image is being used by running container cdcdcdcdcdcd',
      );
    }
  });

  it('by id, an untagged image goes without untag records', () => {
    expect(show(planRemoval(input({ given: ID, references: [] })))).toEqual({ untag: [], deleteImage: true, keepDangling: false });
  });
});
