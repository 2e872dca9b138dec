import type { KV } from 'nats';
import { UnavailableError } from '@drydock/errors';
import { encodeJson, getJson, isKeyExists, isRevisionConflict, nameKey, retryTransientKv, type NameClaim } from '@drydock/cluster';
import type { NameRegistry } from '../containers/ports';

export interface KvNameRegistryOptions {
  /** The directory bucket once NATS is reachable, undefined before. */
  directory: () => KV | undefined;
  nodeId: string;
  /** Whether a container id exists on this node (a claim of this node for a gone container is stale). */
  isLocal: (id: string) => boolean;
  /** Deadline of one registry call (a create waits for it). */
  timeoutMs: number;
  /** How long a take rides out JetStream without a leader (a NATS server lost). Default 10000 ms. */
  leaderlessForMs?: number;
}

/**
 * Container names unique in the cluster (libs/cluster directory.ts `name.<...>` keys): a name
 * is taken with a KV create, so of two nodes racing for one name exactly one wins; it is
 * released at the revision read, only by the container holding it.
 */
export class KvNameRegistry implements NameRegistry {
  /** Names a replacement is about to take over from the container it replaces (name -> that container). */
  private readonly successions = new Map<string, { id: string; nodeId: string }>();

  constructor(private readonly opts: KvNameRegistryOptions) {}

  /**
   * Lets the next take of `name` move the claim of container `from.id` (on node `from.nodeId`)
   * to the taker with an update at the claim's revision: the name never passes through free,
   * so no other create can take it between the lost container and its replacement. Returns
   * the undo (call it once the create is over).
   */
  succeed(name: string, from: { id: string; nodeId: string }): () => void {
    this.successions.set(name, from);
    return () => {
      if (this.successions.get(name) === from) this.successions.delete(name);
    };
  }

  async take(name: string, id: string): Promise<string | undefined> {
    const kv = this.opts.directory();
    if (!kv) throw unreachable(name);
    const key = nameKey(name);
    const claim: NameClaim = { name, id, nodeId: this.opts.nodeId, time: Date.now() };
    try {
      // every step is a revision-checked write or a read: safe to repeat after a lost leader
      return await retryTransientKv(() => this.takeOnce(kv, key, claim), this.opts.leaderlessForMs ?? 10000);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw unreachable(name, err);
    }
  }

  private async takeOnce(kv: KV, key: string, claim: NameClaim): Promise<string | undefined> {
    const { name, id } = claim;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await this.deadline(kv.create(key, encodeJson(claim)));
        return undefined;
      } catch (err) {
        if (!isKeyExists(err)) throw err;
      }
      const cur = await this.deadline(getJson<NameClaim>(kv, key));
      if (!cur) continue; // released meanwhile
      if (cur.value.id === id) return undefined;
      const from = this.successions.get(name);
      const succeeding = from?.id === cur.value.id && from.nodeId === cur.value.nodeId;
      // this node's claim for a container it no longer has (a crash between remove and release): stale
      if (!succeeding && (cur.value.nodeId !== this.opts.nodeId || this.opts.isLocal(cur.value.id))) return cur.value.id;
      try {
        await this.deadline(kv.update(key, encodeJson(claim), cur.revision));
        return undefined;
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
      }
    }
    throw new UnavailableError(`the container name "${name}" is contended: retry`);
  }

  async release(name: string, id: string): Promise<void> {
    const kv = this.opts.directory();
    if (!kv) return;
    const key = nameKey(name);
    try {
      const cur = await this.deadline(getJson<NameClaim>(kv, key));
      if (cur?.value.id === id) await this.deadline(kv.delete(key, { previousSeq: cur.revision }));
    } catch {
      // the reconcile of the directory removes claims of containers that are gone
    }
  }

  private deadline<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UnavailableError(`name registry call timed out after ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

function unreachable(name: string, cause?: unknown): UnavailableError {
  return new UnavailableError(`cannot take the container name "/${name}": the cluster's name registry (NATS) is unreachable`, { cause });
}
