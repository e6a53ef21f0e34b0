import { AppError, notFound } from '../../errors';
import type { BuyerConfirmation, Decided } from '../settlement/settlement-outcome';

export type Refusal = Exclude<BuyerConfirmation, Decided>;

/** The one place a confirmation that decided nothing becomes the error a client reads (`extensions.code`). */
export function refusalError(refusal: Refusal): AppError {
  switch (refusal.kind) {
    case 'RESERVATION_NOT_FOUND':
      return notFound('Reservation', refusal.reservationId);
    case 'PAYMENT_ALREADY_USED':
      return new AppError('PAYMENT_ALREADY_USED', `Payment ${refusal.gatewayPaymentId} already belongs to another booking`);
    case 'NOT_PAID':
      return new AppError('PAYMENT_NOT_COMPLETED', `Payment ${refusal.gatewayPaymentId} is not completed (${refusal.detail})`);
    case 'NOT_OURS':
      return new AppError('PAYMENT_NOT_OURS', `Payment ${refusal.gatewayPaymentId} was not made for any of our bookings; nothing was changed`);
    case 'UNKNOWN_PAYMENT':
      return new AppError('NOT_FOUND', `PortOne has no payment ${refusal.gatewayPaymentId}`);
    case 'GATEWAY_UNAVAILABLE':
      return new AppError('GATEWAY_UNAVAILABLE', 'PortOne could not be reached to verify the payment; it will be settled automatically', { retryable: true });
  }
}
