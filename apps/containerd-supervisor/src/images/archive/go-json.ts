/**
 * The parts of Go's encoding/json (Go 1.19, what Debian's Docker 20.10 is built
 * with) that show in `docker save`: the legacy `<layer id>/json` files and the
 * v1 layer ids hashed from them are Go structs decoded from the image config and
 * marshalled again, so field order, omitempty, null slices, HTML escaping and
 * time formatting must be Go's for the archive (and the ids) to be Docker's.
 */

type Json = unknown;
type JsonObject = Record<string, Json>;

/** Go's encodeState.string with escapeHTML: `<`, `>`, `&`, U+2028/2029 and control bytes escaped. */
export function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      // a surrogate pair passes; a lone surrogate is invalid UTF-8 for Go: U+FFFD
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\\ufffd';
      continue;
    }
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

/** Go's time.Time MarshalJSON (RFC 3339 with nanoseconds, trailing zeros dropped) of a time Go parsed from `s`. */
export function goTime(s: string | undefined): string {
  const m = typeof s === 'string' ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s) : null;
  if (!m) return '"0001-01-01T00:00:00Z"';
  const frac = (m[2] ?? '').slice(0, 9).replace(/0+$/, '');
  // dockerd runs in UTC: a zero offset parses into the local zone and prints as "Z"
  const zone = m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3];
  return `"${m[1]}${frac ? '.' + frac : ''}${zone}"`;
}

/** Unix seconds Docker stamps on archive files of an image created at `s` (moby's Chtimes clamps to [epoch, 2262]). */
export function goMtime(s: string | undefined): number {
  const ms = typeof s === 'string' ? Date.parse(s) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > 9223372036854) return 0;
  return Math.floor(ms / 1000);
}

/**
 * Finds an object's value for a struct field the way Go's decoder does: keys
 * are visited in order and match exactly or case-insensitively; the last match wins.
 */
function field(obj: JsonObject, name: string): Json {
  let found: Json;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k === name || k.toLowerCase() === lower) found = v;
  return found;
}

const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json): string => (typeof v === 'string' ? v : '');
const bool = (v: Json): boolean => v === true;
const num = (v: Json): string => (typeof v === 'number' && Number.isFinite(v) ? BigInt(Math.trunc(v)).toString() : '0');

/** []string: null when absent or null (Go's nil slice), else the strings. */
function strings(v: Json): string | undefined {
  if (!Array.isArray(v)) return undefined;
  return '[' + v.map((x) => goString(str(x))).join(',') + ']';
}

/** strslice.StrSlice: a JSON string decodes as a one-element list. */
function strSlice(v: Json): string | undefined {
  if (typeof v === 'string') return '[' + goString(v) + ']';
  return strings(v);
}

/** map[string]struct{} (ExposedPorts, Volumes): sorted keys, `{}` values. */
function setMap(v: Json): string | undefined {
  if (!isObject(v)) return undefined;
  return '{' + Object.keys(v).sort(byBytes).map((k) => `${goString(k)}:{}`).join(',') + '}';
}

/** map[string]string: sorted keys. */
function stringMap(v: Json): string | undefined {
  if (!isObject(v)) return undefined;
  return '{' + Object.keys(v).sort(byBytes).map((k) => `${goString(k)}:${goString(str(v[k]))}`).join(',') + '}';
}

/** Go sorts map keys by their UTF-8 bytes. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** container.HealthConfig (all fields omitempty). */
function healthConfig(v: JsonObject): string {
  const parts: string[] = [];
  const test = field(v, 'Test');
  if (Array.isArray(test) && test.length > 0) parts.push(`"Test":${strings(test)}`);
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries']) {
    const n = num(field(v, k));
    if (n !== '0') parts.push(`"${k}":${n}`);
  }
  return '{' + parts.join(',') + '}';
}

/** container.Config of Docker 20.10 (api/types/container/config.go), field by field. */
export function goContainerConfig(v: Json): string {
  const c = isObject(v) ? v : {};
  const parts: string[] = [];
  const put = (k: string, val: string | undefined) => parts.push(`"${k}":${val ?? 'null'}`);
  const putIf = (k: string, val: string | undefined, keep: boolean) => {
    if (keep) put(k, val);
  };
  put('Hostname', goString(str(field(c, 'Hostname'))));
  put('Domainname', goString(str(field(c, 'Domainname'))));
  put('User', goString(str(field(c, 'User'))));
  put('AttachStdin', String(bool(field(c, 'AttachStdin'))));
  put('AttachStdout', String(bool(field(c, 'AttachStdout'))));
  put('AttachStderr', String(bool(field(c, 'AttachStderr'))));
  const ports = field(c, 'ExposedPorts');
  putIf('ExposedPorts', setMap(ports), isObject(ports) && Object.keys(ports).length > 0);
  put('Tty', String(bool(field(c, 'Tty'))));
  put('OpenStdin', String(bool(field(c, 'OpenStdin'))));
  put('StdinOnce', String(bool(field(c, 'StdinOnce'))));
  put('Env', strings(field(c, 'Env')));
  put('Cmd', strSlice(field(c, 'Cmd')));
  const hc = field(c, 'Healthcheck');
  putIf('Healthcheck', isObject(hc) ? healthConfig(hc) : undefined, isObject(hc));
  putIf('ArgsEscaped', 'true', bool(field(c, 'ArgsEscaped')));
  put('Image', goString(str(field(c, 'Image'))));
  put('Volumes', setMap(field(c, 'Volumes')));
  put('WorkingDir', goString(str(field(c, 'WorkingDir'))));
  put('Entrypoint', strSlice(field(c, 'Entrypoint')));
  putIf('NetworkDisabled', 'true', bool(field(c, 'NetworkDisabled')));
  const mac = str(field(c, 'MacAddress'));
  putIf('MacAddress', goString(mac), mac !== '');
  put('OnBuild', strings(field(c, 'OnBuild')));
  put('Labels', stringMap(field(c, 'Labels')));
  const stopSignal = str(field(c, 'StopSignal'));
  putIf('StopSignal', goString(stopSignal), stopSignal !== '');
  const stopTimeout = field(c, 'StopTimeout');
  putIf('StopTimeout', num(stopTimeout), typeof stopTimeout === 'number');
  const shell = strSlice(field(c, 'Shell'));
  putIf('Shell', shell, shell !== undefined && shell !== '[]');
  return '{' + parts.join(',') + '}';
}

/** The fields of image.V1Image that `docker save` writes, decoded from an image config. */
export interface V1ImageFields {
  id?: string;
  parent?: string;
  /** Absent: the config's own fields (top layer); `lower`: an empty V1Image created at the epoch. */
  config?: JsonObject;
  os?: string;
}

/**
 * json.Marshal(image.V1Image) with `fields.config` decoded into it (or an empty
 * one created at the Unix epoch for lower layers), ID/Parent/OS set as given.
 * Returns the members in struct order, so CreateID can re-sort them.
 */
export function goV1ImageMembers(fields: V1ImageFields): [string, string][] {
  const c = fields.config ?? {};
  const lower = fields.config === undefined;
  const members: [string, string][] = [];
  const putStr = (k: string, v: string | undefined) => {
    if (v) members.push([k, goString(v)]);
  };
  putStr('id', fields.id);
  putStr('parent', fields.parent);
  putStr('comment', str(field(c, 'comment')));
  members.push(['created', lower ? '"1970-01-01T00:00:00Z"' : goTime(str(field(c, 'created')) || undefined)]);
  putStr('container', str(field(c, 'container')));
  members.push(['container_config', goContainerConfig(field(c, 'container_config'))]);
  putStr('docker_version', str(field(c, 'docker_version')));
  putStr('author', str(field(c, 'author')));
  const config = field(c, 'config');
  if (isObject(config)) members.push(['config', goContainerConfig(config)]);
  putStr('architecture', str(field(c, 'architecture')));
  putStr('variant', str(field(c, 'variant')));
  putStr('os', fields.os);
  const size = num(field(c, 'Size'));
  if (size !== '0') members.push(['Size', size]);
  return members;
}

/** Members in order as a JSON object. */
export function goObject(members: [string, string][]): string {
  return '{' + members.map(([k, v]) => `${goString(k)}:${v}`).join(',') + '}';
}

/** json.Marshal of a map[string]*json.RawMessage: keys sorted by bytes. */
export function goSortedObject(members: [string, string][]): string {
  return goObject([...members].sort((a, b) => byBytes(a[0], b[0])));
}
