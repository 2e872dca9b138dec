import { DeadlineError, goNetReason, goUrlError } from './go-errors';

const url = new URL('https://127.0.0.1:5999/v2/');
const sys = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });

describe('Go-worded transport errors', () => {
  it('words refused connections, lookups, TLS against plain HTTP and deadlines as dockerd prints them', () => {
    expect(goUrlError('GET', url, goNetReason(sys('ECONNREFUSED', { address: '127.0.0.1', port: 5999 }), url))).toBe(
      'Get "https://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
    );
    expect(goNetReason(sys('ENOTFOUND', { hostname: 'example.invalid' }), url)).toMatch(/^dial tcp: lookup example\.invalid( on .+:53)?: no such host$/);
    expect(goNetReason(sys('ERR_SSL_WRONG_VERSION_NUMBER'), url)).toBe('http: server gave HTTP response to HTTPS client');
    expect(goNetReason(sys('DEPTH_ZERO_SELF_SIGNED_CERT'), url)).toBe('x509: certificate signed by unknown authority');
    expect(goNetReason(new DeadlineError(), url)).toBe('context deadline exceeded (Client.Timeout exceeded while awaiting headers)');
    expect(goUrlError('HEAD', url, 'EOF')).toBe('Head "https://127.0.0.1:5999/v2/": EOF');
  });
});
