import { FailedPreconditionError } from '@drydock/errors';
import { familiarString, referenceString, repositoryOf, shortId, type ImageReference } from './reference';

/** Which containers use an image (the container store answers; the image store has no container knowledge). */
export interface ImageUsage {
  /** True if at least one of them runs; then containerIds[0] is a running one. */
  running: boolean;
  /** Containers created from the image, running ones first. */
  containerIds: string[];
}

export interface RemovalInput {
  /** The image id, `sha256:<config digest>`. */
  imageId: string;
  /** What the user typed (quoted in Docker's messages). */
  given: string;
  /** The reference removed when `given` named the image, undefined when it was an id. */
  named?: ImageReference;
  /** All references (tags and digests) naming the image. */
  references: ImageReference[];
  force: boolean;
  usage: ImageUsage;
}

export interface RemovalPlan {
  /** References to delete, in Docker's order (its `Untagged` records). */
  untag: ImageReference[];
  /** True when the image itself goes (its `Deleted` records). */
  deleteImage: boolean;
  /** True when the last name goes but the image stays, dangling (`rmi -f` of an image a container uses). */
  keepDangling: boolean;
}

const sameRef = (a: ImageReference, b: ImageReference) => referenceString(a) === referenceString(b);
const repo = repositoryOf;
const isCanonical = (r: ImageReference) => r.digest !== undefined && r.tag === undefined;

/**
 * moby's isSingleReference: all references in one repository and at most one
 * tag among them. False for no references.
 */
export function isSingleReference(refs: ImageReference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: ImageReference | undefined;
  const canonicalRepos = new Set<string>();
  for (const r of refs) {
    if (isCanonical(r)) canonicalRepos.add(repo(r));
    else if (single === undefined) single = r;
    else return false;
  }
  single ??= refs[0];
  return canonicalRepos.size === 1 && canonicalRepos.has(repo(single));
}

/** moby's isImageIDPrefix: was the image named by (a prefix of) its id? */
export function isImageIdPrefix(imageId: string, given: string): boolean {
  if (given === '') return false;
  if (imageId.startsWith(given)) return true;
  const i = imageId.indexOf(':');
  return i >= 0 && imageId.slice(i + 1).startsWith(given);
}

interface Conflict {
  hard: boolean;
  used: boolean;
  message: string;
}

function conflictError(imageId: string, c: Conflict): FailedPreconditionError {
  return new FailedPreconditionError(`conflict: unable to delete ${shortId(imageId)} (${c.hard ? 'cannot be forced' : 'must be forced'}) - ${c.message}`);
}

/** moby's checkImageDeleteConflict without the child-image check (Drydock images have no parent chain). */
function checkConflict(input: RemovalInput, remaining: ImageReference[], soft: { activeReference: boolean; stoppedContainer: boolean }): Conflict | undefined {
  const { usage } = input;
  if (usage.running && usage.containerIds.length > 0) {
    return { hard: true, used: true, message: `image is being used by running container ${shortId(usage.containerIds[0])}` };
  }
  if (soft.activeReference && remaining.length > 0) {
    return { hard: false, used: false, message: 'image is referenced in multiple repositories' };
  }
  if (soft.stoppedContainer && !usage.running && usage.containerIds.length > 0) {
    return { hard: false, used: true, message: `image is being used by stopped container ${shortId(usage.containerIds[0])}` };
  }
  return undefined;
}

/**
 * Docker 20.10's `docker rmi` rules (moby daemon/images/image_delete.go),
 * decided without side effects. Throws FailedPreconditionError (HTTP 409) with
 * Docker's conflict texts.
 */
export function planRemoval(input: RemovalInput): RemovalPlan {
  const { imageId, given, named, force, usage } = input;
  let remaining = [...input.references];
  const untag: ImageReference[] = [];
  let removedRepositoryRef = false;

  if (named) {
    if (!force && isSingleReference(remaining) && usage.containerIds.length > 0) {
      // Untagging would leave the image a dangling "<none>" under a container; the user must insist.
      throw new FailedPreconditionError(
        `conflict: unable to remove repository reference "${given}" (must force) - container ${shortId(usage.containerIds[0])} is using its referenced image ${shortId(imageId)}`,
      );
    }
    untag.push(named);
    remaining = remaining.filter((r) => !sameRef(r, named));
    // A tag removed with no other tag left in its repository takes that repository's digest references along.
    if (!isCanonical(named) && !remaining.some((r) => !isCanonical(r) && repo(r) === repo(named))) {
      const digests = remaining.filter((r) => isCanonical(r) && repo(r) === repo(named));
      untag.push(...digests);
      remaining = remaining.filter((r) => !digests.includes(r));
    }
    if (remaining.length > 0) return { untag, deleteImage: false, keepDangling: false };
    removedRepositoryRef = true;
  } else if (isSingleReference(remaining)) {
    // By id, one name (plus its digests): the names go with the image, but containers still count.
    const conflict = checkConflict(input, [], { activeReference: false, stoppedContainer: !force });
    if (conflict) throw conflictError(imageId, conflict);
    untag.push(...remaining);
    remaining = [];
  }

  const conflict = checkConflict(input, remaining, { activeReference: !force, stoppedContainer: !force });
  if (conflict) {
    // The last name was removed but a container still uses the image: it stays, untagged.
    if (removedRepositoryRef && conflict.used) return { untag, deleteImage: false, keepDangling: true };
    throw conflictError(imageId, conflict);
  }
  untag.push(...remaining);
  return { untag, deleteImage: true, keepDangling: false };
}

/** Docker's `Untagged` strings for a plan. */
export function untaggedRecords(plan: RemovalPlan): string[] {
  return plan.untag.map(familiarString);
}
