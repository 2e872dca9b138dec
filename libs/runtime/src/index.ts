/** What every service's process needs at run time besides its logger: calls to other services, memory upkeep. */
export { httpCall, httpStream, type HttpCallOptions } from './http-call';
export { IdleCollector, fullGc, loadLowMemory, loadMallocTrim, startServiceIdleCollector, type IdleCollectorOptions } from './idle-collector';
export { SERVICE_MALLOC_ENV, SERVICE_NODE_FLAGS, serviceNodeFlags } from './process-settings';
export { CrashPoints, killSelf } from './crash-points';
