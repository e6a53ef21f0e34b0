import { GatewayError, type GatewayErrorKind } from '../../src/gateway/payment-gateway';

/** The GatewayError `promise` rejects with; any other outcome (success, another error) fails the test. */
export async function gatewayErrorOf(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError, but the call succeeded');
}

/** The kind of the GatewayError `promise` rejects with (see gatewayErrorOf). */
export async function gatewayErrorKindOf(promise: Promise<unknown>): Promise<GatewayErrorKind> {
  return (await gatewayErrorOf(promise)).kind;
}
