import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Payment, PaymentDecision } from '../settlement/payment.entity';
import { Refund } from '../refunds/refund.entity';

export interface ReservationMoney {
  /** The payment that backs the booking (the confirmed one), else the latest decided payment. */
  payment: Payment | null;
  /**
   * The refund that concerns the booking: of the backing payment when one confirmed it (a buyer's or an
   * outside cancel), else the latest. A duplicate payment's refund never shows on a CONFIRMED booking.
   */
  refund: Refund | null;
}

export function createPaymentLoaders(em: EntityManager) {
  return {
    moneyByReservationId: new DataLoader<string, ReservationMoney>(async (ids) => {
      const payments = await em.find(Payment, { reservation: { $in: [...ids] } }, { orderBy: { decidedAt: 'asc', id: 'asc' } });
      const refunds = await em.find(Refund, { reservation: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
      return ids.map((id) => {
        const mine = payments.filter((p) => p.reservation.id === id);
        const confirmed = mine.find((p) => p.decision === PaymentDecision.CONFIRMED) ?? null;
        const myRefunds = refunds.filter((r) => r.reservation.id === id);
        return confirmed
          ? { payment: confirmed, refund: myRefunds.find((r) => r.gatewayPaymentId === confirmed.gatewayPaymentId) ?? null }
          : { payment: mine[mine.length - 1] ?? null, refund: myRefunds[myRefunds.length - 1] ?? null };
      });
    }),
  };
}
