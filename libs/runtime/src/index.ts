/** What every service's process needs at run time besides its logger: calls to other services, memory upkeep. */
export { httpCall, httpStream, type HttpCallOptions } from './http-call';
export { IdleCollector, fullGc, type IdleCollectorOptions } from './idle-collector';
