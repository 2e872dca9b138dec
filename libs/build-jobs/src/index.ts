/**
 * @drydock/build-jobs: the contract between the api-gateway (POST /build) and the builder workers.
 * A build is one BullMQ job on Redis; its output is a Redis stream the gateway relays to the client.
 */
export * from './protocol';
