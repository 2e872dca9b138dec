import { parseReference, withTag } from '@drydock/oci-spec';
import { errcodeText, isTransient, RegistryError, translatePullError, translatePushError } from './registry-errors';

const ref = (s: string) => {
  const r = parseReference(s);
  return r.tag || r.digest ? r : withTag(r, 'latest');
};
const body = (code: string, message: string) => JSON.stringify({ errors: [{ code, message }] });

describe('registry error translation (dockerd 20.10 words and classes)', () => {
  it('formats distribution errcodes as errcode.Error does, and passes Go client errors through', () => {
    expect(errcodeText({ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' })).toBe('manifest unknown: manifest unknown');
    expect(errcodeText({ code: 'UNAUTHORIZED', message: 'authentication required' })).toBe('unauthorized: authentication required');
    expect(errcodeText({ code: 'UNAUTHORIZED', message: 'Head "http://h/v2/x/manifests/latest": no basic auth credentials' })).toBe(
      'Head "http://h/v2/x/manifests/latest": no basic auth credentials',
    );
    expect(errcodeText({ code: 'UNAVAILABLE', message: 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused' })).toBe(
      'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused',
    );
  });

  it('maps unknown manifests, repositories and denied to NotFound (404) with the reference', () => {
    const r = ref('127.0.0.1:5555/x:nope');
    expect(translatePullError(RegistryError.fromResponse(404, body('MANIFEST_UNKNOWN', 'manifest unknown'), 'GET'), r)).toMatchObject({
      code: 'NOT_FOUND',
      message: 'manifest for 127.0.0.1:5555/x:nope not found: manifest unknown: manifest unknown',
    });
    expect(translatePullError(RegistryError.fromResponse(404, body('NAME_UNKNOWN', 'repository name not known to registry'), 'GET'), r)).toMatchObject({
      code: 'NOT_FOUND',
      message: 'repository 127.0.0.1:5555/x not found: name unknown: repository name not known to registry',
    });
    expect(translatePullError(RegistryError.fromResponse(403, body('DENIED', 'requested access to the resource is denied'), 'GET'), ref('busybox'))).toMatchObject({
      code: 'NOT_FOUND',
      message: "pull access denied for busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    });
    // A 404 without a body still reads like dockerd's.
    expect(translatePullError(RegistryError.fromResponse(404, '', 'GET'), ref('busybox@sha256:' + '0'.repeat(64)))).toMatchObject({
      code: 'NOT_FOUND',
      message: `manifest for busybox@sha256:${'0'.repeat(64)} not found: manifest unknown: manifest unknown`,
    });
  });

  it('answers unauthorized and unreachable registries as unclassified (dockerd: 500)', () => {
    const r = ref('127.0.0.1:5556/library/busybox');
    expect(translatePullError(RegistryError.fromResponse(401, body('UNAUTHORIZED', 'authentication required'), 'GET'), r)).toMatchObject({
      code: 'INTERNAL',
      message: 'unauthorized: authentication required',
    });
    const unreachable = 'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused';
    expect(translatePullError(RegistryError.fromResponse(502, body('UNAVAILABLE', unreachable), 'GET'), ref('127.0.0.1:1/x'))).toMatchObject({ code: 'INTERNAL', message: unreachable });
  });

  it("a registry-proxy that cannot be reached is Drydock's outage (Unavailable), not the registry's answer", () => {
    const refused = RegistryError.network(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5100'), { code: 'ECONNREFUSED' }), 'GET /v2/docker.io/library/busybox/manifests/latest');
    expect(translatePullError(refused, ref('busybox'))).toMatchObject({
      code: 'UNAVAILABLE',
      message: 'registry-proxy unreachable: GET /v2/docker.io/library/busybox/manifests/latest: connect ECONNREFUSED 127.0.0.1:5100',
    });
    expect(translatePushError(refused).code).toBe('UNAVAILABLE');
  });

  it('push drops the request in front of an authentication failure, as dockerd prints it', () => {
    const e = RegistryError.fromResponse(401, body('UNAUTHORIZED', 'Head "http://h/v2/x/blobs/sha256:1": no basic auth credentials'), 'HEAD');
    expect(translatePushError(e)).toMatchObject({ code: 'INTERNAL', message: 'no basic auth credentials' });
    expect(translatePushError(RegistryError.fromResponse(403, body('DENIED', 'requested access to the resource is denied'), 'PUT')).message).toBe(
      'denied: requested access to the resource is denied',
    );
  });

  it('retries connection failures and 5xx, never definite answers; upstream UNAVAILABLE only where asked', () => {
    const refused = RegistryError.network(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'GET');
    const unavailable = RegistryError.fromResponse(502, body('UNAVAILABLE', 'Get "x": dial tcp'), 'GET');
    expect(isTransient(refused, { upstreamUnavailable: false })).toBe(true);
    expect(isTransient(unavailable, { upstreamUnavailable: false })).toBe(false);
    expect(isTransient(unavailable, { upstreamUnavailable: true })).toBe(true);
    expect(isTransient(RegistryError.fromResponse(502, body('DIGEST_INVALID', 'bad'), 'GET'), { upstreamUnavailable: false })).toBe(true);
    expect(isTransient(RegistryError.fromResponse(503, '', 'GET'), { upstreamUnavailable: false })).toBe(true);
    for (const [status, code] of [
      [404, 'MANIFEST_UNKNOWN'],
      [401, 'UNAUTHORIZED'],
      [403, 'DENIED'],
      [400, 'MANIFEST_INVALID'],
    ] as const) {
      expect(isTransient(RegistryError.fromResponse(status, body(code, 'x'), 'GET'), { upstreamUnavailable: true })).toBe(false);
    }
    expect(isTransient(new Error('other'), { upstreamUnavailable: true })).toBe(false);
  });
});
