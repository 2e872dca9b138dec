import { mountsUnder } from './mounts';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '100 22 0:50 / /tmp/dd-x-1/ctd/state/io.containerd.runtime.v2.task/drydock/c1/rootfs rw shared:60 - overlay overlay rw,lowerdir=a',
  '101 22 0:51 / /tmp/dd-x-1/ctd rw shared:61 - tmpfs tmpfs rw',
  '102 22 0:52 / /tmp/dd-x-10/other rw shared:62 - tmpfs tmpfs rw',
  '103 22 0:53 / /tmp/dd-x-1/with\\040space rw shared:63 - tmpfs tmpfs rw',
  '',
].join('\n');

describe('mountsUnder', () => {
  it('lists mounts at or below a directory, deepest first, and not a sibling sharing the prefix', () => {
    expect(mountsUnder('/tmp/dd-x-1/', MOUNTINFO)).toEqual([
      '/tmp/dd-x-1/ctd/state/io.containerd.runtime.v2.task/drydock/c1/rootfs',
      '/tmp/dd-x-1/with space',
      '/tmp/dd-x-1/ctd',
    ]);
  });
});
