import type { History, ImageConfig, ImageRunConfig } from '@drydock/oci-spec';
import { dockerRunConfig } from '../image-model';

/** The DiffID of a layer without entries (1024 zero bytes): moby's layer.IsEmpty. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** What dockerd writes as docker_version; the CLI and tools read it as the engine version that built the image. */
export const DOCKER_VERSION = '20.10.24';

export interface ChildImageInput {
  /** The parent's config; undefined for an image without parent (FROM scratch). */
  parent?: ImageConfig;
  /** The new image's run config (`config`). */
  config: ImageRunConfig;
  /** `container_config`; its Cmd joined by spaces is the history's created_by. */
  containerConfig: ImageRunConfig;
  /** Recorded in `container`. */
  containerId?: string;
  author?: string;
  /** History comment only: dockerd's NewChildImage leaves the top-level comment empty. */
  comment?: string;
  /** The new layer; undefined or EMPTY_LAYER_DIFF_ID: an empty layer (history empty_layer). */
  diffId?: string;
  /** RFC 3339 creation time (image and history entry). */
  created: string;
  /** os/architecture when there is no parent. */
  platform: { os: string; architecture: string; variant?: string };
}

/** moby image.NewChildImage: the child's config from its parent's. */
export function childImageConfig(i: ChildImageInput): ImageConfig {
  const p = i.parent;
  const empty = !i.diffId || i.diffId === EMPTY_LAYER_DIFF_ID;
  const history: History = { created: i.created };
  if (i.author) history.author = i.author;
  const createdBy = (i.containerConfig.Cmd ?? []).join(' ');
  if (createdBy) history.created_by = createdBy;
  if (i.comment) history.comment = i.comment;
  if (empty) history.empty_layer = true;
  const variant = p ? p.variant : i.platform.variant;
  const out: ImageConfig = {
    architecture: p?.architecture || i.platform.architecture,
    ...(i.author ? { author: i.author } : {}),
    config: dockerRunConfig(i.config) as ImageRunConfig,
    ...(i.containerId ? { container: i.containerId } : {}),
    container_config: dockerRunConfig(i.containerConfig) as ImageRunConfig,
    created: i.created,
    docker_version: DOCKER_VERSION,
    history: [...(p?.history ?? []), history],
    os: p?.os || i.platform.os,
    rootfs: { type: 'layers', diff_ids: [...(p?.rootfs?.diff_ids ?? []), ...(empty ? [] : [i.diffId!])] },
    ...(variant ? { variant } : {}),
    ...(p?.['os.version'] ? { 'os.version': p['os.version'] } : {}),
    ...(p?.['os.features']?.length ? { 'os.features': p['os.features'] } : {}),
  };
  return out;
}

/** image.Image.MarshalJSON: top-level keys sorted (it round-trips through a map), nested objects as they are. */
export function marshalImageConfig(c: ImageConfig): Buffer {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(c).sort()) sorted[k] = (c as unknown as Record<string, unknown>)[k];
  return Buffer.from(JSON.stringify(sorted));
}

/**
 * dockerd's daemon/commit.go merge: what a commit's config (after --change) inherits from the
 * container's own config. Unlike create's merge it never fails.
 */
export function commitMerge(user: ImageRunConfig, base: ImageRunConfig): ImageRunConfig {
  const u: ImageRunConfig = structuredClone(user);
  if (!u.User) u.User = base.User;
  if (!u.ExposedPorts || Object.keys(u.ExposedPorts).length === 0) u.ExposedPorts = base.ExposedPorts;
  else if (base.ExposedPorts) for (const port of Object.keys(base.ExposedPorts)) u.ExposedPorts[port] ??= {};
  if (!u.Env || u.Env.length === 0) u.Env = base.Env;
  else {
    for (const e of base.Env ?? []) {
      const key = e.split('=')[0];
      if (!u.Env.some((x) => x.split('=')[0] === key)) u.Env.push(e);
    }
  }
  u.Labels = { ...(base.Labels ?? {}), ...(u.Labels ?? {}) };
  if (!u.Entrypoint || u.Entrypoint.length === 0) {
    if (!u.Cmd || u.Cmd.length === 0) u.Cmd = base.Cmd;
    if (u.Entrypoint == null) u.Entrypoint = base.Entrypoint;
  }
  if (base.Healthcheck) {
    if (!u.Healthcheck) u.Healthcheck = base.Healthcheck;
    else {
      const h = u.Healthcheck;
      if (!h.Test || h.Test.length === 0) h.Test = base.Healthcheck.Test;
      if (!h.Interval) h.Interval = base.Healthcheck.Interval;
      if (!h.Timeout) h.Timeout = base.Healthcheck.Timeout;
      if (!h.StartPeriod) h.StartPeriod = base.Healthcheck.StartPeriod;
      if (!h.Retries) h.Retries = base.Healthcheck.Retries;
    }
  }
  if (!u.WorkingDir) u.WorkingDir = base.WorkingDir;
  if (!u.Volumes || Object.keys(u.Volumes).length === 0) u.Volumes = base.Volumes;
  else u.Volumes = { ...u.Volumes, ...(base.Volumes ?? {}) };
  if (!u.StopSignal) u.StopSignal = base.StopSignal;
  return u;
}
