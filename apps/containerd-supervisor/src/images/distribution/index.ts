/** Pull and push through the registry-proxy (docker pull / docker push). */
export { ImagePuller, type PullRequest, type PullResult, type DistributionOptions, type PullSource } from './puller';
export { AllTagsPuller, type TagSource } from './all-tags';
export { ImagePusher, type PushRequest, type PushedTag } from './pusher';
export { RegistryClient, type RegistryClientOptions } from './registry-client';
export { ProgressChannel, type Progress } from './progress';
