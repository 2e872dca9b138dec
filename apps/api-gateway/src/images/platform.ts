import { InvalidArgumentError } from '@drydock/errors';

// containerd's platforms package (the version dockerd 20.10 vendors): known values for one-part specifiers
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32',
  'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);
const ARCH_ALIASES: Record<string, string> = { i386: '386', x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };
const COMPONENT = /^[A-Za-z0-9_-]+$/;

/**
 * The syntax checks of containerd's platforms.Parse, which dockerd's router
 * applies to `platform` before pulling, with its texts (400, errdefs'
 * ": invalid argument" suffix). Which platform an image offers is the
 * supervisor's business; this only refuses what dockerd cannot parse.
 */
export function checkPlatformSpecifier(spec: string): void {
  const fail = (why: string) => {
    throw new InvalidArgumentError(`${JSON.stringify(spec)}: ${why}: invalid argument`);
  };
  if (spec.includes('*')) fail('wildcards not yet supported');
  const parts = spec.split('/');
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw new InvalidArgumentError(`${JSON.stringify(part)} is an invalid component of ${JSON.stringify(spec)}: platform specifier component must match "${COMPONENT.source}": invalid argument`);
    }
  }
  if (parts.length > 3) fail('cannot parse platform specifier');
  if (parts.length === 1) {
    const os = parts[0].toLowerCase() === 'macos' ? 'darwin' : parts[0].toLowerCase();
    const arch = ARCH_ALIASES[parts[0].toLowerCase()] ?? parts[0].toLowerCase();
    if (!KNOWN_OS.has(os) && !KNOWN_ARCH.has(arch)) fail('unknown operating system or architecture');
  }
}
