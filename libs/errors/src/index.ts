export * from './errors';
export { toGrpcStatus, fromGrpcError, isServiceError } from './grpc';
export { toHttpError } from './http';
