import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { requireCommand } from './deps';

const run = promisify(execFile);

/** Runs `ctr -a <address> [-n <namespace>] ...args` and returns its stdout. */
export async function ctr(address: string, args: string[], namespace?: string, timeoutMs = 30000): Promise<string> {
  const bin = requireCommand('ctr', 'containerd');
  const ns = namespace ? ['-n', namespace] : [];
  const { stdout } = await run(bin, ['-a', address, ...ns, ...args], { timeout: timeoutMs });
  return stdout;
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

/**
 * Kills and deletes every task and container in every namespace of the containerd
 * at `address`. Tasks go first: containerd refuses to delete a container whose task
 * exists, and a live task holds its rootfs mount. Returns what could not be removed.
 */
export async function deleteAllContainers(address: string): Promise<string[]> {
  const failures: string[] = [];
  for (const ns of lines(await ctr(address, ['namespaces', 'ls', '-q']))) {
    for (const id of lines(await ctr(address, ['tasks', 'ls', '-q'], ns))) {
      // --force kills the init process with SIGKILL and waits before deleting.
      await ctr(address, ['tasks', 'delete', '--force', id], ns).catch((err) => failures.push(`task ${ns}/${id}: ${err.message}`));
    }
    for (const id of lines(await ctr(address, ['containers', 'ls', '-q'], ns))) {
      await ctr(address, ['containers', 'delete', id], ns).catch((err) => failures.push(`container ${ns}/${id}: ${err.message}`));
    }
  }
  return failures;
}

/**
 * SIGKILLs shims that serve the containerd at `address`: the last resort when
 * their containerd could not be asked. The match on the private socket path means
 * no other containerd's shims are touched.
 */
export function killShimsOf(address: string): number[] {
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (!argv[0]?.includes('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i >= 0 && argv[i + 1] === address) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed.push(Number(entry));
      } catch {
        // gone already
      }
    }
  }
  return killed;
}
