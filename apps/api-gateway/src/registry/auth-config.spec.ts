import { encodeRegistryAuth, goJsonDecodeError, parseAuthBody, pushRegistryAuth } from './auth-config';

describe('AuthConfig bodies and X-Registry-Auth', () => {
  it('decodes POST /auth bodies; failures are 500s in encoding/json words, as dockerd answers', () => {
    expect(parseAuthBody('{"username":"alice","password":"secret","serveraddress":"127.0.0.1:5556"}')).toEqual({ username: 'alice', password: 'secret', serveraddress: '127.0.0.1:5556' });
    // recorded from dockerd 20.10: `curl -d garbage .../auth`
    expect(() => parseAuthBody('garbage')).toThrow(expect.objectContaining({ code: 'INTERNAL', message: "invalid character 'g' looking for beginning of value" }));
    expect(() => parseAuthBody('')).toThrow(expect.objectContaining({ code: 'INTERNAL', message: 'EOF' }));
    expect(goJsonDecodeError('{"a":')).toBe('unexpected EOF');
  });

  it('encodes like the docker CLI (base64url with padding): {} is e30=', () => {
    expect(encodeRegistryAuth({})).toBe('e30=');
    expect(Buffer.from(encodeRegistryAuth({ username: 'a?>' }), 'base64url').toString()).toBe('{"username":"a?>"}');
  });

  it('push takes the header as is, else an AuthConfig body, else the 400 dockerd gives', () => {
    expect(pushRegistryAuth('eyJ1c2VybmFtZSI6ImEifQ==', '')).toBe('eyJ1c2VybmFtZSI6ImEifQ==');
    expect(pushRegistryAuth(undefined, '{}')).toBe('e30=');
    expect(() => pushRegistryAuth(undefined, '')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'Bad parameters and missing X-Registry-Auth: EOF' }));
    expect(() => pushRegistryAuth(undefined, 'x')).toThrow("Bad parameters and missing X-Registry-Auth: invalid character 'x' looking for beginning of value");
  });
});
