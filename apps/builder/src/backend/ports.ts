import type { ImageConfig, ImageRunConfig } from '@drydock/oci-spec';

/** An image as the builder sees it: its id, full config blob and parent. */
export interface ImageInfo {
  id: string;
  config: ImageConfig;
  parent: string;
}

export interface ImagePath {
  path: string;
  resolved: string;
  exists: boolean;
  isDir: boolean;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  content?: Buffer;
}

/** Host settings of step containers (the build's --memory, --cpu-*, --network, ...). */
export interface StepHostOptions {
  networkMode: string;
  memory: number;
  memorySwap: number;
  cpuShares: number;
  cpuPeriod: number;
  cpuQuota: number;
  shmSize: number;
  extraHosts: string[];
}

export interface CommitStep {
  /** Commit this container's layer; or `parentImage` (+ optional layer tar, or nothing). */
  containerId?: string;
  parentImage?: string;
  config: ImageRunConfig;
  containerConfig: ImageRunConfig;
  recordedContainer?: string;
  author?: string;
  labels: Record<string, string>;
  /** The step container goes right after: its snapshot may become the layer's. */
  consume?: boolean;
}

/** A message of an image pull, as dockerd's JSON progress stream carries it. */
export type ProgressMessage = Record<string, unknown>;

/**
 * What the builder needs from a node: images, step containers and commits. The supervisor's gRPC API
 * fills it (backend/supervisor-backend.ts); tests hand in fakes.
 */
export interface BuildBackend {
  /** undefined when the node has no such image. */
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  pullImage(ref: string, platform: string, registryAuth: string, onProgress: (m: ProgressMessage) => Promise<void>, signal: AbortSignal): Promise<void>;
  createContainer(config: ImageRunConfig, host: StepHostOptions, labels: Record<string, string>): Promise<{ id: string; warnings: string[] }>;
  /** Starts the container and relays its output until it exits; resolves with the exit code. */
  runContainer(id: string, onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => Promise<void>, signal: AbortSignal): Promise<number>;
  removeContainer(id: string): Promise<void>;
  /** Containers carrying label `key=value` (leftovers of a build). */
  listContainers(label: string): Promise<string[]>;
  commit(step: CommitStep, layer?: AsyncIterable<Buffer>): Promise<string>;
  readImagePaths(image: string, paths: string[], readLimit: number): Promise<ImagePath[]>;
  /** Images committed on `parentId`; with `depth` > 1 their descendants too (each with its parent). */
  childImages(parentId: string, depth?: number): Promise<{ id: string; config: ImageConfig; parent: string }[]>;
  /** A tar of `path` in the image (named by its basename, docker cp's layout), for COPY --from. */
  imagePathTar(image: string, path: string, signal: AbortSignal): Promise<{ exists: boolean; chunks: AsyncIterable<Buffer> }>;
  tagImage(id: string, repository: string, tag: string): Promise<void>;
}
