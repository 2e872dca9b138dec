import { decodeBody } from '../http/go-json';
import { parseUpdateBody as parseDecoded } from './container-update';
import { bodies } from './request-bodies';

const parseUpdateBody = (id: string, body: unknown) => parseDecoded(id, decodeBody(bodies.containerUpdate, Buffer.from(JSON.stringify(body))));

describe('parseUpdateBody', () => {
  it('applies only non-zero resources and a named restart policy, as dockerd does', () => {
    // what `docker update -m 128m --cpus 1.5 c` sends
    const body = { Memory: 134217728, MemorySwap: 0, NanoCpus: 1500000000, CpuShares: 0, CpuPeriod: 0, CpuQuota: 0, BlkioWeight: 0, PidsLimit: null, KernelMemory: 0, RestartPolicy: { Name: '', MaximumRetryCount: 0 } };
    expect(parseUpdateBody('c', body)).toEqual({ id: 'c', memory: '134217728', nanoCpus: '1500000000' });
    expect(parseUpdateBody('c', { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } })).toEqual({ id: 'c', restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } });
    expect(parseUpdateBody('c', { MemorySwap: -1 })).toEqual({ id: 'c', memorySwap: '-1' });
  });
  it('refuses what it cannot apply and wrong types', () => {
    expect(() => parseUpdateBody('c', { PidsLimit: 10 })).toThrow('updating PidsLimit is not supported on this node');
    expect(() => parseUpdateBody('c', { Memory: '1g' })).toThrow('json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64');
  });
});
