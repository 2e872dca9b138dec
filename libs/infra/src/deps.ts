import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FailedPreconditionError } from '@drydock/errors';

/** A program or file Drydock needs is not installed; the message names the Debian package. */
export class MissingDependencyError extends FailedPreconditionError {
  constructor(readonly what: string, readonly debianPackage: string) {
    super(`${what} not found: install the Debian package ${debianPackage} (tools/install/ensure-deps.sh does)`);
  }
}

// Root's tools (runc, nats-server) live in sbin, which a non-login PATH may lack.
const EXTRA_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The absolute path of `command` (searched in PATH, then the sbin directories),
 * or a MissingDependencyError naming `debianPackage`.
 */
export function requireCommand(command: string, debianPackage: string, searchPath = process.env.PATH ?? ''): string {
  if (command.includes('/')) {
    if (isExecutable(command)) return command;
    throw new MissingDependencyError(command, debianPackage);
  }
  for (const dir of [...searchPath.split(delimiter).filter(Boolean), ...EXTRA_PATH]) {
    const p = join(dir, command);
    if (isExecutable(p)) return p;
  }
  throw new MissingDependencyError(`command ${command}`, debianPackage);
}
