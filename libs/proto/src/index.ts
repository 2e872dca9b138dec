/**
 * Generated gRPC bindings: Drydock's own APIs and the parts of containerd's API
 * that Drydock drives. Regenerate with `npm run proto:gen`; never edit gen/.
 */
export * as supervisorV1 from './gen/drydock/supervisor/v1/supervisor';
export * as schedulerV1 from './gen/drydock/scheduler/v1/scheduler';
export * as ctrContainers from './gen/github.com/containerd/containerd/api/services/containers/v1/containers';
export * as ctrContent from './gen/github.com/containerd/containerd/api/services/content/v1/content';
export * as ctrDiff from './gen/github.com/containerd/containerd/api/services/diff/v1/diff';
export * as ctrEvents from './gen/github.com/containerd/containerd/api/services/events/v1/events';
export * as ctrImages from './gen/github.com/containerd/containerd/api/services/images/v1/images';
export * as ctrLeases from './gen/github.com/containerd/containerd/api/services/leases/v1/leases';
export * as ctrNamespaces from './gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace';
export * as ctrSnapshots from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots';
export * as ctrTasks from './gen/github.com/containerd/containerd/api/services/tasks/v1/tasks';
export * as ctrVersion from './gen/github.com/containerd/containerd/api/services/version/v1/version';
export * as ctrTaskEvents from './gen/github.com/containerd/containerd/api/events/task';
export * as ctrContainerEvents from './gen/github.com/containerd/containerd/api/events/container';
export * as ctrTypesMount from './gen/github.com/containerd/containerd/api/types/mount';
export * as ctrTypesDescriptor from './gen/github.com/containerd/containerd/api/types/descriptor';
export * as ctrTypesTask from './gen/github.com/containerd/containerd/api/types/task/task';
export { Any } from './gen/google/protobuf/any';
export { Timestamp } from './gen/google/protobuf/timestamp';
