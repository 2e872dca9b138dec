import { ctrContainers, type Any } from '@drydock/proto';
import { isNotFound } from '@drydock/errors';
import type { ContainerdClient } from '../containerd/containerd-client';
import { EXTENSION_TYPE_URL, NAME_LABEL, OCI_SPEC_TYPE_URL, SPEC_EXTENSION, STATE_EXTENSION, type ContainerSpecRecord, type ContainerStateRecord } from './record';

/** A container as stored in containerd. */
export interface StoredContainer {
  spec: ContainerSpecRecord;
  state: ContainerStateRecord;
  name: string;
  labels: Record<string, string>;
}

const json = (v: unknown): Any => ({ typeUrl: EXTENSION_TYPE_URL, value: Buffer.from(JSON.stringify(v)) });
const parse = <T>(a: Any | undefined): T | undefined => (a?.value ? (JSON.parse(Buffer.from(a.value).toString('utf8')) as T) : undefined);

/**
 * Persists Drydock's container records in containerd's metadata store (bolt),
 * the node's one source of truth: the record, the state and the name live in
 * the containerd container's extensions and labels.
 */
export class ContainerStore {
  constructor(private readonly cc: ContainerdClient, private readonly runtimeName = 'io.containerd.runc.v2') {}

  async create(c: StoredContainer, ociSpec: object, snapshotKey: string): Promise<void> {
    await this.cc.unary(this.cc.containers, this.cc.containers.create, {
      container: {
        id: c.spec.id,
        labels: { ...c.labels, [NAME_LABEL]: c.name },
        image: c.spec.imageName,
        runtime: { name: this.runtimeName },
        spec: { typeUrl: OCI_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(ociSpec)) },
        snapshotter: 'overlayfs',
        snapshotKey,
        extensions: { [SPEC_EXTENSION]: json(c.spec), [STATE_EXTENSION]: json(c.state) },
      },
    });
  }

  async list(): Promise<StoredContainer[]> {
    const res = await this.cc.unary(this.cc.containers, this.cc.containers.list, {});
    return (res.containers ?? []).flatMap((c) => {
      const s = this.decode(c);
      return s ? [s] : [];
    });
  }

  /** Every container id containerd has in the namespace, Drydock's or not (those own their snapshots). */
  async ids(): Promise<Set<string>> {
    const res = await this.cc.unary(this.cc.containers, this.cc.containers.list, {});
    return new Set((res.containers ?? []).map((c) => c.id ?? ''));
  }

  async get(id: string): Promise<StoredContainer | undefined> {
    try {
      const res = await this.cc.unary(this.cc.containers, this.cc.containers.get, { id });
      return res.container ? this.decode(res.container) : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async ociSpec<T>(id: string): Promise<T> {
    const res = await this.cc.unary(this.cc.containers, this.cc.containers.get, { id });
    return JSON.parse(Buffer.from(res.container?.spec?.value ?? Buffer.from('{}')).toString('utf8')) as T;
  }

  async saveState(id: string, state: ContainerStateRecord): Promise<void> {
    await this.cc.unary(this.cc.containers, this.cc.containers.update, {
      container: { id, extensions: { [STATE_EXTENSION]: json(state) } },
      updateMask: [`extensions.${STATE_EXTENSION}`],
    });
  }

  async saveSpec(id: string, spec: ContainerSpecRecord, ociSpec?: object): Promise<void> {
    const paths = [`extensions.${SPEC_EXTENSION}`];
    if (ociSpec) paths.push('spec');
    await this.cc.unary(this.cc.containers, this.cc.containers.update, {
      container: {
        id,
        extensions: { [SPEC_EXTENSION]: json(spec) },
        spec: ociSpec ? { typeUrl: OCI_SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(ociSpec)) } : undefined,
      },
      updateMask: paths,
    });
  }

  async rename(id: string, name: string): Promise<void> {
    await this.cc.unary(this.cc.containers, this.cc.containers.update, {
      container: { id, labels: { [NAME_LABEL]: name } },
      updateMask: [`labels.${NAME_LABEL}`],
    });
  }

  async delete(id: string): Promise<void> {
    try {
      await this.cc.unary(this.cc.containers, this.cc.containers.delete, { id });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private decode(c: ctrContainers.Container): StoredContainer | undefined {
    const spec = parse<ContainerSpecRecord>(c.extensions?.[SPEC_EXTENSION]);
    const state = parse<ContainerStateRecord>(c.extensions?.[STATE_EXTENSION]);
    // containers made by other tools in the namespace are not ours to show
    if (!spec || !state || !c.labels?.[NAME_LABEL]) return undefined;
    const { [NAME_LABEL]: name, ...labels } = c.labels;
    return { spec, state, name, labels };
  }
}
