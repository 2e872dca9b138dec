// The plugin HTTP protocol and legacy discovery, shared by the supervisor (volume drivers) and the gateway (authz).
export * from './plugin-client';
export * from './plugin-directory';
export * from './legacy-plugin-directory';
