import { serviceConfig } from './service-config';

describe('serviceConfig', () => {
  it("reads like dockerd 20.10's RegistryConfig for the same registry-mirrors and insecure-registries", () => {
    // recorded: daemon.json {"registry-mirrors":["https://mirror.example.com","http://m2.example:5000/"],
    // "insecure-registries":["10.0.0.0/8","myreg.local:5000","other.example"]}; the config module
    // keeps mirrors as origins and appends loopback
    expect(serviceConfig({ mirrors: ['https://mirror.example.com', 'http://m2.example:5000'], insecureRegistries: ['10.0.0.0/8', 'myreg.local:5000', 'other.example', '127.0.0.0/8'] })).toEqual({
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['10.0.0.0/8', '127.0.0.0/8'],
      IndexConfigs: {
        'docker.io': { Name: 'docker.io', Mirrors: ['https://mirror.example.com/', 'http://m2.example:5000/'], Secure: true, Official: true },
        'myreg.local:5000': { Name: 'myreg.local:5000', Mirrors: [], Secure: false, Official: false },
        'other.example': { Name: 'other.example', Mirrors: [], Secure: false, Official: false },
      },
      Mirrors: ['https://mirror.example.com/', 'http://m2.example:5000/'],
    });
  });
  it('defaults: loopback only, no mirrors', () => {
    expect(serviceConfig({ mirrors: [], insecureRegistries: ['127.0.0.0/8'] })).toMatchObject({ InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [], IndexConfigs: { 'docker.io': { Mirrors: [] } } });
  });
});
