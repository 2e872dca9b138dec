/**
 * Docker Engine API 1.41 event messages (`GET /events`), built the way dockerd 20.10
 * builds them (daemon/events.go, daemon/events/events.go), so the gateway can stream
 * them to the docker CLI and SDKs without translation.
 */

export type DockerEventType = 'container' | 'image' | 'volume' | 'network';

/** events.Message of API 1.41; field names and omitempty behaviour as in moby's JSON tags. */
export interface DockerEvent {
  /** Deprecated: the Action, set for container and image events only. */
  status?: string;
  /** Deprecated: Actor.ID, set for container and image events only. */
  id?: string;
  /** Deprecated: the container's image (Attributes.image), container events only. */
  from?: string;
  Type: DockerEventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Seconds since the epoch. */
  time: number;
  /**
   * Nanoseconds since the epoch. A JS number: exact to the millisecond only
   * (doubles near 1.7e18 are 256 ns apart); JSON.stringify prints it without an
   * exponent, so Go's int64 decoding in the CLI accepts it.
   */
  timeNano: number;
}

/**
 * Container actions dockerd 20.10 emits. Exec actions carry the command in the action
 * itself (`exec_create: sh -c date`), health checks `health_status: healthy`; those are
 * built with {@link execAction} and {@link healthStatusAction}.
 */
export type ContainerAction =
  | 'attach'
  | 'commit'
  | 'copy'
  | 'create'
  | 'destroy'
  | 'detach'
  | 'die'
  | 'exec_die'
  | 'exec_detach'
  | 'export'
  | 'kill'
  | 'oom'
  | 'pause'
  | 'rename'
  | 'resize'
  | 'restart'
  | 'start'
  | 'stop'
  | 'top'
  | 'unpause'
  | 'update'
  | 'archive-path'
  | 'extract-to-dir'
  | `exec_create: ${string}`
  | `exec_start: ${string}`
  | `health_status: ${string}`;

export type ImageAction = 'delete' | 'import' | 'load' | 'pull' | 'push' | 'save' | 'tag' | 'untag';

export interface ContainerEventSubject {
  /** Full 64-hex container id. */
  id: string;
  /** Container name, with or without Docker's leading slash (it is stripped, as dockerd does). */
  name: string;
  /** The image as the user wrote it in Config.Image (e.g. `busybox`), not the resolved id. */
  image?: string;
  /** The container's Config.Labels; dockerd copies them into the Attributes. */
  labels?: Record<string, string>;
  /**
   * Action-specific attributes: `exitCode` for die and exec_die, `signal` (number as text)
   * for kill, `execID` for exec_*, `oldName` for rename, `height`/`width` for resize, ...
   */
  attributes?: Record<string, string>;
}

/** `exec_create: <entrypoint> <args...>` exactly as dockerd formats it (a trailing space when there are no args). */
export function execAction(kind: 'exec_create' | 'exec_start', entrypoint: string, args: readonly string[]): ContainerAction {
  return `${kind}: ${entrypoint} ${args.join(' ')}`;
}

export function healthStatusAction(status: 'starting' | 'healthy' | 'unhealthy'): ContainerAction {
  return `health_status: ${status}`;
}

function timestamps(now: Date): { time: number; timeNano: number } {
  const ms = now.getTime();
  return { time: Math.floor(ms / 1000), timeNano: ms * 1e6 };
}

/**
 * A container event as dockerd 20.10 emits it. Attribute precedence follows
 * LogContainerEventWithAttributes: the action's attributes, overwritten by labels,
 * overwritten by `image` (when set) and `name`.
 */
export function containerEvent(action: ContainerAction, subject: ContainerEventSubject, now: Date = new Date()): DockerEvent {
  const attributes: Record<string, string> = { ...(subject.attributes ?? {}), ...(subject.labels ?? {}) };
  if (subject.image) attributes.image = subject.image;
  attributes.name = subject.name.replace(/^\/+/, '');
  return {
    status: action,
    id: subject.id,
    // moby: jm.From = actor.Attributes["image"]; omitempty drops it when empty.
    ...(attributes.image ? { from: attributes.image } : {}),
    Type: 'container',
    Action: action,
    Actor: { ID: subject.id, Attributes: attributes },
    scope: 'local',
    ...timestamps(now),
  };
}

export interface ImageEventSubject {
  /**
   * Actor.ID. dockerd uses the image id (`sha256:...`) for delete, import, tag and
   * untag, and the familiar reference for pull and push.
   */
  id: string;
  /**
   * Attributes.name. dockerd passes the new reference for tag and the image id itself
   * for delete, untag and import; omitted when empty.
   */
  name?: string;
  /** The image's Config.Labels, copied into the Attributes while the image still exists. */
  labels?: Record<string, string>;
}

/** An image event as dockerd 20.10 emits it (status and id legacy fields, no `from`). */
export function imageEvent(action: ImageAction, subject: ImageEventSubject, now: Date = new Date()): DockerEvent {
  const attributes: Record<string, string> = { ...(subject.labels ?? {}) };
  if (subject.name) attributes.name = subject.name;
  return {
    status: action,
    id: subject.id,
    Type: 'image',
    Action: action,
    Actor: { ID: subject.id, Attributes: attributes },
    scope: 'local',
    ...timestamps(now),
  };
}

export type NetworkAction = 'create' | 'connect' | 'disconnect' | 'destroy';

/**
 * A network event as dockerd 20.10 emits it (daemon/events.go LogNetworkEventWithAttributes):
 * Actor.ID the network id, Attributes name and type (the driver), plus container for
 * connect/disconnect; no legacy status/id fields.
 */
export function networkEvent(action: NetworkAction, subject: { id: string; name: string; driver: string; container?: string }, now: Date = new Date()): DockerEvent {
  const attributes: Record<string, string> = { name: subject.name, type: subject.driver };
  if (subject.container) attributes.container = subject.container;
  return { Type: 'network', Action: action, Actor: { ID: subject.id, Attributes: attributes }, scope: 'local', ...timestamps(now) };
}
