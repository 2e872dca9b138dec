import { SERVICE_NODE_FLAGS, serviceNodeFlags } from './process-settings';

describe('serviceNodeFlags', () => {
  it('gives every service the common flags', () => {
    expect(serviceNodeFlags('api-gateway')).toEqual(SERVICE_NODE_FLAGS);
  });
  it('adds the builder its own, also over replaced common flags', () => {
    expect(serviceNodeFlags('builder')).toEqual([...SERVICE_NODE_FLAGS, '--max-opt=1']);
    expect(serviceNodeFlags('builder', ['--x'])).toEqual(['--x', '--max-opt=1']);
  });
});
