import { isIP } from 'node:net';

/** Docker's registry.IndexInfo. */
export interface IndexInfo {
  Name: string;
  Mirrors: string[];
  Secure: boolean;
  Official: boolean;
}

/** Docker's registry.ServiceConfig, as `docker info` shows it (RegistryConfig). */
export interface ServiceConfig {
  AllowNondistributableArtifactsCIDRs: string[];
  AllowNondistributableArtifactsHostnames: string[];
  InsecureRegistryCIDRs: string[];
  IndexConfigs: Record<string, IndexInfo>;
  Mirrors: string[];
}

/**
 * dockerd's newServiceConfig (registry/config.go) over the proxy's upstream settings:
 * CIDRs in the order given (loopback included by the config module), every other
 * insecure entry an index of its own, Docker Hub's index with the mirrors, which
 * dockerd prints with a trailing slash. Keys sorted, as Go marshals a map.
 */
export function serviceConfig(upstream: { mirrors: string[]; insecureRegistries: string[] }): ServiceConfig {
  const mirrors = upstream.mirrors.map((m) => m.replace(/\/*$/, '/'));
  const cidrs: string[] = [];
  const indexes: Record<string, IndexInfo> = { 'docker.io': { Name: 'docker.io', Mirrors: mirrors, Secure: true, Official: true } };
  for (const r of upstream.insecureRegistries) {
    const slash = r.indexOf('/');
    if (slash > 0 && isIP(r.slice(0, slash))) {
      if (!cidrs.includes(r)) cidrs.push(r);
    } else {
      // dockerd's ValidateIndexName: the old Hub host names Docker Hub
      const name = r === 'index.docker.io' ? 'docker.io' : r;
      indexes[name] = { Name: name, Mirrors: name === 'docker.io' ? mirrors : [], Secure: false, Official: name === 'docker.io' };
    }
  }
  const IndexConfigs: Record<string, IndexInfo> = {};
  for (const k of Object.keys(indexes).sort()) IndexConfigs[k] = indexes[k];
  return { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: cidrs, IndexConfigs, Mirrors: mirrors };
}
