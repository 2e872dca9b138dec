import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const root = resolve(__dirname, '../..');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services?: Record<string, ComposeService> };
  const services = compose.services ?? {};
  const apps = readdirSync(join(root, 'apps')).filter((n) => statSync(join(root, 'apps', n)).isDirectory());

  it('has a service for every app under apps/', () => {
    expect(apps.length).toBeGreaterThan(0);
    expect(apps.filter((a) => !services[a])).toEqual([]);
  });

  it('gives every app service a build or an image, and the Dockerfile it names exists', () => {
    for (const app of apps) {
      const s = services[app];
      expect({ app, hasBuildOrImage: !!(s?.build || s?.image) }).toEqual({ app, hasBuildOrImage: true });
      if (typeof s?.build === 'object' && s.build.dockerfile) {
        expect(existsSync(join(root, s.build.context ?? '.', s.build.dockerfile))).toBe(true);
      }
    }
  });

  it('runs NATS with JetStream and Redis', () => {
    expect(services.nats?.image).toMatch(/^nats:/);
    expect([services.nats?.command ?? []].flat().join(' ')).toMatch(/(^|\s)(-js|--jetstream)(\s|$)/);
    expect(services.redis?.image).toMatch(/^redis:/);
  });
});
