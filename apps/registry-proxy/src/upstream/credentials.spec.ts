import { ANONYMOUS, credentialsKey, decodeRegistryAuth } from './credentials';

const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('decodeRegistryAuth', () => {
  it('reads the docker CLI header (base64url JSON, padded or not, standard alphabet tolerated)', () => {
    expect(decodeRegistryAuth(enc({ username: 'alice', password: 'p?>', serveraddress: 'reg:5000' }))).toEqual({ username: 'alice', password: 'p?>', identityToken: '', registryToken: '' });
    const std = Buffer.from(JSON.stringify({ username: 'bob', password: 'ÿÿ>>' })).toString('base64');
    expect(decodeRegistryAuth(std).password).toBe('ÿÿ>>');
    expect(decodeRegistryAuth(enc({ identitytoken: 'rt', registrytoken: 'tok' }))).toMatchObject({ identityToken: 'rt', registryToken: 'tok' });
  });

  it('takes user and password from `auth` when they are not given', () => {
    expect(decodeRegistryAuth(enc({ auth: Buffer.from('carol:se:cret').toString('base64') }))).toMatchObject({ username: 'carol', password: 'se:cret' });
  });

  it('is anonymous when absent, `e30=` or undecodable, as dockerd treats it', () => {
    expect(decodeRegistryAuth(undefined)).toBe(ANONYMOUS);
    expect(decodeRegistryAuth('e30=')).toEqual(ANONYMOUS);
    expect(decodeRegistryAuth('!!!not base64 json')).toBe(ANONYMOUS);
  });

  it('keys caches by a hash, never by the secret itself', () => {
    const c = decodeRegistryAuth(enc({ username: 'alice', password: 'secret' }));
    expect(credentialsKey(c)).not.toContain('secret');
    expect(credentialsKey(c)).not.toBe(credentialsKey(decodeRegistryAuth(enc({ username: 'alice', password: 'other' }))));
    expect(credentialsKey(ANONYMOUS)).toBe('anonymous');
  });
});
