/** What a cache entry is: a verified blob, a stored manifest, or a resumable partial download nobody is fetching. */
export type EntryKind = 'blob' | 'manifest' | 'partial';

/** One file the cache holds and counts toward its size limit. */
export interface CacheEntry {
  kind: EntryKind;
  hex: string;
  size: number;
}

/**
 * The in-memory LRU index of what is on disk. A Map iterates in insertion order, so
 * re-inserting on every touch keeps the least recently used entry first: touch, add and
 * remove are O(1) and eviction walks from the front.
 */
export class CacheIndex {
  private readonly entries = new Map<string, CacheEntry>();
  private totalBytes = 0;
  private blobCount = 0;

  /** Bytes of every indexed entry. */
  get bytes(): number {
    return this.totalBytes;
  }
  /** Verified blobs indexed. */
  get blobs(): number {
    return this.blobCount;
  }

  /** The entry, without touching it. */
  get(kind: EntryKind, hex: string): CacheEntry | undefined {
    return this.entries.get(key(kind, hex));
  }

  /** Whether the entry is indexed, without touching it. */
  has(kind: EntryKind, hex: string): boolean {
    return this.entries.has(key(kind, hex));
  }

  /** Adds (or replaces) an entry as the most recently used. */
  add(kind: EntryKind, hex: string, size: number): void {
    this.remove(kind, hex);
    this.entries.set(key(kind, hex), { kind, hex, size });
    this.totalBytes += size;
    if (kind === 'blob') this.blobCount++;
  }

  /** Marks an entry most recently used; false when it is not indexed. */
  touch(kind: EntryKind, hex: string): boolean {
    const k = key(kind, hex);
    const e = this.entries.get(k);
    if (!e) return false;
    this.entries.delete(k);
    this.entries.set(k, e);
    return true;
  }

  /** Forgets an entry (its file is the caller's business); returns it when it was indexed. */
  remove(kind: EntryKind, hex: string): CacheEntry | undefined {
    const k = key(kind, hex);
    const e = this.entries.get(k);
    if (!e) return undefined;
    this.entries.delete(k);
    this.totalBytes -= e.size;
    if (kind === 'blob') this.blobCount--;
    return e;
  }

  /** Entries, least recently used first (safe to remove entries while iterating). */
  oldestFirst(): IterableIterator<CacheEntry> {
    return this.entries.values();
  }
}

function key(kind: EntryKind, hex: string): string {
  return `${kind}:${hex}`;
}
