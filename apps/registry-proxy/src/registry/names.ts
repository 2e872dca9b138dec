import { RegistryError } from './errors';

// The distribution spec's grammar. Path components never start with "_", so a
// repository directory can never collide with _manifests/_layers.
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_NAME = 255;

export function validateName(name: string): string {
  if (name.length > MAX_NAME || !NAME_RE.test(name)) throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name)}`);
  return name;
}

export function isTag(ref: string): boolean {
  return TAG_RE.test(ref);
}

export function validateTag(tag: string): string {
  if (!TAG_RE.test(tag)) throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(tag)}`);
  return tag;
}
