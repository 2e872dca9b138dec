import { status } from '@grpc/grpc-js';
import { errorCode, fromGrpcError, InvalidArgumentError, isNotFound, NotFoundError, toGrpcStatus } from './index';

describe('error taxonomy', () => {
  it('classifies through the cause chain', () => {
    const inner = new NotFoundError('No such container: x');
    const outer = new Error('wrapped', { cause: inner });
    expect(errorCode(outer)).toBe('NOT_FOUND');
    expect(isNotFound(outer)).toBe(true);
    expect(errorCode(new Error('plain'))).toBe('INTERNAL');
  });

  it('maps to gRPC and back without losing the class or message', () => {
    const s = toGrpcStatus(new InvalidArgumentError('invalid memory'));
    expect(s.code).toBe(status.INVALID_ARGUMENT);
    const back = fromGrpcError(Object.assign(new Error('3 INVALID_ARGUMENT: invalid memory'), { code: s.code, details: s.details, metadata: s.metadata }));
    expect(back).toBeInstanceOf(InvalidArgumentError);
    expect(back.message).toBe('invalid memory');
  });

  it('hides unclassified messages from clients', () => {
    expect(toGrpcStatus(new Error('secret stack detail'))).toMatchObject({ code: status.INTERNAL, details: 'internal error' });
  });
});
