/** HTTP proxy variables usable without an ARG (dockerd's builtinAllowedBuildArgs); never in a cache key unless declared. */
export const BUILTIN_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy']);

/** dockerd's BuildArgs: declared ARGs, meta ARGs (before the first FROM), the --build-arg values. */
export class BuildArgs {
  private allowed = new Map<string, string | undefined>();
  private readonly meta = new Map<string, string | undefined>();
  private readonly referenced = new Set<string>();

  constructor(private readonly fromOptions: Record<string, string | null>) {}

  clone(): BuildArgs {
    const c = new BuildArgs(this.fromOptions);
    for (const [k, v] of this.allowed) c.allowed.set(k, v);
    for (const [k, v] of this.meta) c.meta.set(k, v);
    for (const k of this.referenced) c.referenced.add(k);
    return c;
  }

  resetAllowed(): void {
    this.allowed = new Map();
  }

  mergeReferenced(other: BuildArgs): void {
    for (const k of other.referenced) this.referenced.add(k);
  }

  addArg(key: string, value: string | undefined): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  addMetaArg(key: string, value: string | undefined): void {
    this.meta.set(key, value);
  }

  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !BUILTIN_ARGS.has(key);
  }

  private get(key: string, source: Map<string, string | undefined>): string | undefined {
    const v = this.fromOptions[key];
    if (Object.prototype.hasOwnProperty.call(this.fromOptions, key) && v !== null && v !== undefined) return v;
    const def = source.get(key);
    if (def === undefined) {
      const m = this.meta.get(key);
      return m;
    }
    return def;
  }

  private all(source: Map<string, string | undefined>): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of [...source.keys(), ...BUILTIN_ARGS]) {
      if (out.has(k)) continue;
      // a builtin proxy variable counts only when the client set it
      if (!source.has(k) && !(k in this.fromOptions && this.fromOptions[k] !== null)) continue;
      const v = this.get(k, source);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  allAllowed(): Map<string, string> {
    return this.all(this.allowed);
  }

  allMeta(): Map<string, string> {
    return this.all(this.meta);
  }

  /** `K=v` of the allowed args the run config's env does not already set (sorted: dockerd's map order is random). */
  filterAllowed(env: readonly string[] | null | undefined): string[] {
    const set = new Set((env ?? []).map((e) => e.split('=')[0]));
    return [...this.allAllowed()].filter(([k]) => !set.has(k)).map(([k, v]) => `${k}=${v}`).sort();
  }

  /** The `[Warning] One or more build-args [...] were not consumed` line, or undefined. */
  unusedWarning(): string | undefined {
    const left = Object.keys(this.fromOptions).filter((k) => !BUILTIN_ARGS.has(k) && !this.referenced.has(k)).sort();
    return left.length ? `[Warning] One or more build-args [${left.join(' ')}] were not consumed\n` : undefined;
  }
}
