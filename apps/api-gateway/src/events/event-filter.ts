import type { FilterArgs } from '../http/query';

/** The event message as the supervisor publishes it (Docker's events.Message of API 1.41). */
export interface DockerEventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  scope?: string;
  time: number;
  timeNano: number;
}

// moby #25798: these actions carry their command/status after a colon, so a bare
// `event=exec_create` filter matches by prefix.
const FUZZY_ACTIONS = new Set(['health_status', 'exec_create', 'exec_start']);

/**
 * dockerd 20.10's events filter (daemon/events/filter.go): keys are AND-ed,
 * values of one key OR-ed. A container/volume/network filter matches the actor
 * id or name by prefix and, as in dockerd, excludes events of other types.
 */
export function eventMatches(f: FilterArgs, ev: DockerEventMessage): boolean {
  const attrs = ev.Actor?.Attributes ?? {};
  const id = ev.Actor?.ID ?? '';
  const fuzzyName = (key: string) => f.fuzzyMatch(key, id) || f.fuzzyMatch(key, attrs.name ?? '');
  const matchEvent = f.get('event').some((v) => FUZZY_ACTIONS.has(v)) ? f.fuzzyMatch('event', ev.Action) : f.exactMatch('event', ev.Action);
  return (
    matchEvent &&
    f.exactMatch('type', ev.Type) &&
    (!f.contains('scope') || f.exactMatch('scope', ev.scope ?? '')) &&
    fuzzyName('daemon') &&
    fuzzyName('container') &&
    fuzzyName('plugin') &&
    fuzzyName('volume') &&
    fuzzyName('network') &&
    matchImage(f, ev, id, attrs) &&
    fuzzyName('node') &&
    fuzzyName('service') &&
    fuzzyName('secret') &&
    fuzzyName('config') &&
    (!f.contains('label') || f.matchKVList('label', attrs))
  );
}

/** Image events name the image in `name`, container events in `image`; tags are optional in the filter. */
function matchImage(f: FilterArgs, ev: DockerEventMessage, id: string, attrs: Record<string, string>): boolean {
  const imageName = (ev.Type === 'image' ? attrs.name : attrs.image) ?? '';
  return f.exactMatch('image', id) || f.exactMatch('image', imageName) || f.exactMatch('image', stripTag(id)) || f.exactMatch('image', stripTag(imageName));
}

/** reference.FamiliarName: `busybox:1` -> `busybox`, `docker.io/library/busybox` -> `busybox`; ids unchanged. */
export function stripTag(image: string): string {
  if (!image || /^sha256:/.test(image)) return image;
  let name = image;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  if (name.startsWith('docker.io/')) name = name.slice('docker.io/'.length);
  else if (name.startsWith('index.docker.io/')) name = name.slice('index.docker.io/'.length);
  if (name.startsWith('library/') && name.split('/').length === 2) name = name.slice('library/'.length);
  return name;
}
