/** Helpers for integration tests: private infrastructure in /tmp, cleanup, test rootfs tars. */
export { makeTempDir } from './temp-dir';
export { startTestInfra, type TestInfra, type TestInfraOptions, type TestContainerd } from './test-infra';
export { buildBusyboxRootfsTar, isStaticElf, BUSYBOX_APPLETS, BUSYBOX_PATH, type RootfsTar } from './busybox-rootfs';
// moved to @drydock/infra (the cluster tool's --down uses them too); re-exported for the tests
export { ctr, deleteAllContainers, killShimsOf, mountsUnder, unmountAllUnder } from '@drydock/infra';
export { buildDrydock, type DrydockBuild } from './build-drydock';
export { buildLayeredImage, pushImage, type LayeredImage, type LayeredImageOptions, type ImageLayer, type PushOptions } from './layered-image';
export { TokenServer, TokenAuthRegistry, RegistryTap, type TokenServerOptions, type TokenRequest, type TapMode, type TapRequest } from './registry-upstreams';
export { removeNetworkObjects } from './network-cleanup';
export { buildVolumePlugin, TestVolumePlugin } from './volume-plugin';
export { buildVolumePluginImage, pushPluginImage, volumePluginConfig, type LayerEntry, type PluginImage } from './volume-plugin-image';
