import { InvalidArgumentError, NotImplementedError } from '@drydock/errors';
import type { BuildOptions } from '@drydock/build-jobs';
import { compareVersions } from '../http/router';

function bool(q: URLSearchParams, k: string): boolean {
  const v = (q.get(k) ?? '').toLowerCase();
  return v !== '' && v !== '0' && v !== 'no' && v !== 'false' && v !== 'none';
}

function int(q: URLSearchParams, k: string): number {
  const v = q.get(k);
  if (v === null || v === '') return 0;
  if (!/^[+-]?\d+$/.test(v)) return 0; // httputils.Int64ValueOrZero: anything unparsable is 0
  return Number(v);
}

function json<T>(q: URLSearchParams, k: string, what: string, check: (v: unknown) => v is T): T | undefined {
  const v = q.get(k);
  if (!v) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: ${(err as Error).message}`);
  }
  // dockerd decodes null as an empty value
  if (parsed === null) return undefined;
  if (!check(parsed)) throw new InvalidArgumentError(`${what}: json: cannot unmarshal ${Array.isArray(parsed) ? 'array' : typeof parsed} into the expected type`);
  return parsed;
}

const isStringMap = (v: unknown): v is Record<string, string> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isArgMap = (v: unknown): v is Record<string, string | null> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * dockerd's newImageBuildOptions (api/server/router/build/build_routes.go) for the legacy builder.
 * Where dockerd answers a client's malformed JSON with a 500 (cachefrom), this is a 400.
 */
export function parseBuildOptions(q: URLSearchParams, apiVersion: string): BuildOptions {
  if (q.getAll('securityopt').length > 0) throw new InvalidArgumentError('The daemon on this platform does not support setting security options on build');
  if (bool(q, 'squash')) throw new InvalidArgumentError('squash is only supported with experimental mode');
  const version = q.get('version') ?? '';
  if (version !== '' && version !== '1') {
    if (version === '2') throw new NotImplementedError('BuildKit (builder version 2) is not supported by this daemon: build with the legacy builder (DOCKER_BUILDKIT=0, or a CLI without buildx)');
    throw new InvalidArgumentError(`invalid version "${version}"`);
  }
  if (q.get('remote')) throw new NotImplementedError('remote build contexts are not supported by this daemon: the docker CLI uploads the context itself');
  const isolation = q.get('isolation') ?? '';
  if (isolation !== '' && isolation !== 'default') throw new InvalidArgumentError(`Unsupported isolation: "${isolation}"`);
  let shmSize = 0;
  const shm = q.get('shmsize');
  if (shm) {
    if (!/^[+-]?\d+$/.test(shm)) throw new InvalidArgumentError(`strconv.ParseInt: parsing "${shm}": invalid syntax`);
    shmSize = Number(shm);
  }
  const ge = (v: string) => compareVersions(apiVersion, v) >= 0;
  const forceRm = bool(q, 'forcerm');
  const remove = forceRm && ge('1.12') ? true : q.get('rm') === null || q.get('rm') === '' ? ge('1.12') : bool(q, 'rm');
  json(q, 'ulimits', 'error reading ulimit settings', isList);
  return {
    dockerfile: q.get('dockerfile') ?? '',
    tags: q.getAll('t'),
    buildArgs: json(q, 'buildargs', 'error reading build args', isArgMap) ?? {},
    noCache: bool(q, 'nocache'),
    pull: bool(q, 'pull') && ge('1.16'),
    remove,
    forceRemove: forceRm,
    target: q.get('target') ?? '',
    labels: json(q, 'labels', 'error reading labels', isStringMap) ?? {},
    cacheFrom: json(q, 'cachefrom', 'error reading cache-from', isStringList) ?? [],
    networkMode: q.get('networkmode') ?? '',
    platform: ge('1.32') ? q.get('platform') ?? '' : '',
    quiet: bool(q, 'q'),
    memory: int(q, 'memory'),
    memorySwap: int(q, 'memswap'),
    cpuShares: int(q, 'cpushares'),
    cpuPeriod: int(q, 'cpuperiod'),
    cpuQuota: int(q, 'cpuquota'),
    cpusetCpus: q.get('cpusetcpus') ?? '',
    cpusetMems: q.get('cpusetmems') ?? '',
    shmSize,
    extraHosts: q.getAll('extrahosts'),
    cgroupParent: q.get('cgroupparent') ?? '',
  };
}

const isList = (v: unknown): v is unknown[] => Array.isArray(v);

/** X-Registry-Config: base64url JSON of AuthConfigs by registry; undecodable is no auth, as dockerd does. */
export function parseRegistryConfig(header: string | undefined): Record<string, Record<string, unknown>> {
  if (!header) return {};
  try {
    const v = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Record<string, unknown>>) : {};
  } catch {
    return {};
  }
}
