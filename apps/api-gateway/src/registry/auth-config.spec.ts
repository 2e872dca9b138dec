import { encodeRegistryAuth, parseAuthBody as parseText, pushRegistryAuth as pushText } from './auth-config';

const parseAuthBody = (t: string) => parseText(Buffer.from(t));
const pushRegistryAuth = (h: string | undefined, t: string) => pushText(h, Buffer.from(t));

describe('AuthConfig bodies and X-Registry-Auth', () => {
  it("decodes POST /auth bodies; failures are 400s in dockerd's words (dockerd: 500)", () => {
    expect(parseAuthBody('{"username":"alice","password":"secret","serveraddress":"127.0.0.1:5556","x":1}')).toEqual({ username: 'alice', password: 'secret', serveraddress: '127.0.0.1:5556' });
    // recorded from dockerd 20.10.24: `curl -d garbage .../auth`, `-d ''`, `-d '{"username": 5}'`
    expect(() => parseAuthBody('garbage')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: "invalid character 'g' looking for beginning of value" }));
    expect(() => parseAuthBody('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'EOF' }));
    expect(() => parseAuthBody('{"a":')).toThrow('unexpected EOF');
    expect(() => parseAuthBody('{"username": 5}')).toThrow('json: cannot unmarshal number into Go struct field AuthConfig.username of type string');
    expect(() => parseAuthBody('[1]')).toThrow('json: cannot unmarshal array into Go value of type types.AuthConfig');
    // Go matches keys case-insensitively
    expect(parseAuthBody('{"UserName":"bob"}')).toEqual({ username: 'bob' });
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
    expect(() => pushRegistryAuth(undefined, '{"username": 5}')).toThrow('Bad parameters and missing X-Registry-Auth: json: cannot unmarshal number into Go struct field AuthConfig.username of type string');
  });
});
