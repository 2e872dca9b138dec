/**
 * @drydock/oci-spec: OCI runtime and image types, the runtime spec Docker would generate, and the
 * Docker parsing rules around it (references, signals, users, mounts, sizes, --change), all pure.
 */
export * from './types';
export {
  defaultSpec,
  defaultMounts,
  defaultDeviceRules,
  parseDeviceCgroupRule,
  DEFAULT_SHM_SIZE,
  DEFAULT_NOFILE_LIMIT,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  type DefaultSpecOptions,
  type BindMountOption,
  type TmpfsMountOption,
  type UserMountOption,
  type UlimitOption,
  type DeviceOption,
} from './default-spec';
export {
  DEFAULT_CAPABILITIES,
  ALL_CAPABILITIES,
  normalizeCapabilities,
  validateCapabilities,
  tweakCapabilities,
} from './capabilities';
export {
  validateResources,
  memoryResources,
  cpuResources,
  pidsResources,
  blockIOResources,
  MIN_MEMORY_BYTES,
  DEFAULT_CPU_PERIOD_US,
  type ResourceOptions,
  type HostConfigLimits,
} from './resources';
export { parseSignal, validSignalForPlatform, assertSignalForPlatform, signalName, SIGNALS } from './signals';
export {
  resolveUser,
  additionalGroups,
  parsePasswd,
  parseGroup,
  buildProcessEnv,
  mergeEnv,
  replaceOrAppendEnvValues,
  DEFAULT_PATH_ENV,
  type ResolvedUser,
  type PasswdEntry,
  type GroupEntry,
  type ProcessEnvOptions,
} from './user';
export { sha256Digest, Sha256Hasher, isDigest, parseDigest, shortId, chainId, chainIds } from './digest';
export {
  parseReference,
  parseStrict,
  normalizeTagged,
  withTag,
  familiarString,
  isImageIdentifier,
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  type ImageReference,
} from './reference';
export {
  applyChanges,
  parseHealthcheckInstruction,
  mergeConfig,
  mergeContainerConfig,
  validateContainerConfig,
  DEFAULT_SHELL,
  VALID_CHANGE_COMMANDS,
  type ResolvedProcess,
  type ResolveProcessOptions,
} from './image-config';
export {
  parseBind,
  parseTmpfs,
  validateTmpfsDestination,
  mergeTmpfsOptions,
  parseBytes,
  parseHumanSize,
  cleanPath,
  DEFAULT_PROPAGATION,
  type Propagation,
  type BindSpec,
  type VolumeSpec,
  type MountSpec,
  type TmpfsSpec,
} from './mounts';
export { parsePortSpec, parseExposedPorts, type PortMapping } from './ports';
export { parseDockerfile, type DockerfileNode, type ParsedDockerfile } from './dockerfile-parser';
export { processWord, processWords, buildEnvMap } from './shell-lex';
export { goQuote, goQuoteSlice, parseGoDuration, goAtoi } from './go-compat';
