import type { EntityManager } from '@mikro-orm/postgresql';
import type { Reservation } from '../../booking/reservation.entity';
import { gatewayBalance, type GatewayError, type GatewayPayment } from '../../gateway/payment-gateway';
import type { PaymentEventEntry, PaymentEventLog } from '../event-log/payment-event-log';
import type { Refund, RefundReason } from '../refunds/refund.entity';
import type { SettlementSource } from './settlement-outcome';

/** What PortOne showed, as every settlement event records it. */
function gatewayFacts(payment: GatewayPayment) {
  return {
    status: payment.status,
    merchantUid: payment.merchantUid,
    amount: payment.amount,
    currency: payment.currency,
    cancelledAmount: payment.cancelledAmount,
    sandbox: payment.sandbox,
  };
}

/**
 * The audit entries settle writes, one named method each, so the money path reads as what happened.
 * A decision's entry carries the gateway read it was made on: one row per decision, not two.
 */
export class SettlementEvents {
  constructor(private readonly log: PaymentEventLog) {}

  async gatewayReadFailed(em: EntityManager, gatewayPaymentId: string, reservationId: string | null, source: SettlementSource, error: GatewayError) {
    await this.log.record(em, { kind: 'GATEWAY_READ', outcome: error.kind, gatewayPaymentId, reservationId, message: error.message, details: { source } });
  }

  async notOurs(em: EntityManager, payment: GatewayPayment, reservationId: string | null, source: SettlementSource, otherStore: boolean) {
    await this.log.record(em, {
      kind: 'DECISION',
      outcome: 'NOT_OURS',
      gatewayPaymentId: payment.gatewayPaymentId,
      reservationId,
      message: otherStore
        ? `payment of store ${payment.storeId}, not ours; nothing confirmed, nothing cancelled`
        : `order id ${payment.merchantUid} is none of our reservations'; nothing confirmed, nothing cancelled`,
      details: { source, read: gatewayFacts(payment), ...(otherStore ? { storeId: payment.storeId } : {}) },
    });
  }

  async notPaid(em: EntityManager, payment: GatewayPayment, reservationId: string | null, source: SettlementSource, detail: string) {
    await this.log.record(em, {
      kind: 'DECISION',
      outcome: 'NOT_PAID',
      gatewayPaymentId: payment.gatewayPaymentId,
      reservationId,
      message: detail,
      details: { source, read: gatewayFacts(payment) },
    });
  }

  /** The entry of a kept payment; its row is written by the confirmation's own statement. */
  confirmedEntry(payment: GatewayPayment, reservation: Reservation, source: SettlementSource): PaymentEventEntry {
    return {
      kind: 'DECISION',
      outcome: 'CONFIRMED',
      reservationId: reservation.id,
      gatewayPaymentId: payment.gatewayPaymentId,
      details: { source, amount: payment.amount, read: gatewayFacts(payment) },
    };
  }

  /** The operator's log line of an entry written by a hot-path statement. */
  written(entry: PaymentEventEntry): void {
    this.log.logOnly(entry);
  }

  refundDecided(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    refund: Refund,
    decision: { reason: RefundReason; decidedBy: string; eventKind: 'DECISION' | 'DECISION_FAILED'; message: string },
  ): void {
    this.log.add(tx, {
      kind: decision.eventKind,
      outcome: 'REFUND',
      reservationId: reservation.id,
      gatewayPaymentId: payment.gatewayPaymentId,
      refundId: refund.id,
      message: decision.message,
      details: {
        source: decision.decidedBy,
        reason: decision.reason,
        amount: payment.amount,
        balance: gatewayBalance(payment),
        read: gatewayFacts(payment),
      },
    });
  }

  externalCancel(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    refund: Refund,
    change: { full: boolean; source: SettlementSource },
  ): void {
    const balance = gatewayBalance(payment);
    this.log.add(tx, {
      kind: 'EXTERNAL_CANCEL',
      outcome: change.full ? 'BOOKING_CANCELLED' : 'NEEDS_ATTENTION',
      reservationId: reservation.id,
      gatewayPaymentId: payment.gatewayPaymentId,
      refundId: refund.id,
      message: change.full
        ? 'PortOne shows the payment fully cancelled outside this server: the booking is cancelled and the seat is free'
        : `PortOne shows ${payment.cancelledAmount} of ${payment.amount} cancelled outside this server; an operator must decide`,
      details: { source: change.source, paid: payment.amount, cancelled: payment.cancelledAmount, balance },
    });
  }
}
