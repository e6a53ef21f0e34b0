import type { EntityManager } from '@mikro-orm/postgresql';
import { ReservationStatus } from '../../booking/reservation.entity';
import type { Clock } from '../../clock';
import { transactionalWithRetry } from '../../db/transaction-retry';
import { gatewayBalance, type GatewayPayment } from '../../gateway/payment-gateway';
import { Refund, RefundReason, RefundStatus } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';
import { Payment, PaymentDecision } from './payment.entity';
import type { SettlementEvents } from './settlement-events';
import type { Decided, SettlementSource } from './settlement-outcome';
import type { SettlementRecords } from './settlement-records';

/**
 * A decided payment read again (webhook, reconciliation, a repeated confirm). If PortOne shows it
 * cancelled by someone else since it confirmed a booking, the booking is no longer paid for; a refund
 * PortOne shows done is done; a PENDING one gets another attempt.
 */
export class RecordedPaymentFollowUp {
  constructor(
    private readonly records: SettlementRecords,
    private readonly refunds: RefundService,
    private readonly events: SettlementEvents,
    private readonly clock: Clock,
  ) {}

  async followUp(em: EntityManager, recorded: Decided, payment: GatewayPayment, source: SettlementSource): Promise<Decided> {
    const balance = gatewayBalance(payment);
    if (recorded.kind === 'CONFIRMED' && balance < recorded.payment.amount) {
      await this.recordExternalCancel(em, recorded.payment.id, payment, source);
      return (await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? recorded;
    }
    if (recorded.kind === 'REFUNDED' && recorded.refund.status !== RefundStatus.SUCCEEDED) {
      if (balance <= 0) await this.refunds.markDoneAtGateway(recorded.refund.id, payment);
      else if (recorded.refund.status === RefundStatus.PENDING) await this.refunds.attempt(recorded.refund.id);
      return (await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? recorded;
    }
    return recorded;
  }

  /**
   * PortOne shows the payment behind a CONFIRMED booking (partly) cancelled, and not by us. Fully
   * cancelled: the booking ends (CANCELLED, seat free) with a SUCCEEDED CANCELLED_AT_GATEWAY refund row
   * that says so. Partly cancelled: an operator must decide (a goodwill discount, or a mistake), so the
   * booking stays and the row is NEEDS_ATTENTION with the balance still paid.
   */
  private async recordExternalCancel(em: EntityManager, paymentRowId: string, payment: GatewayPayment, source: SettlementSource): Promise<void> {
    const balance = gatewayBalance(payment);
    await transactionalWithRetry(em, async (tx) => {
      const record = await tx.findOneOrFail(Payment, paymentRowId);
      const locked = await this.records.lockForDecision(tx, { reservationId: record.reservation.id });
      if (!locked) return;
      const reservation = locked.manage();
      if (reservation.status !== ReservationStatus.CONFIRMED || record.decision !== PaymentDecision.CONFIRMED) return;
      const existing = await tx.findOne(Refund, { gatewayPaymentId: payment.gatewayPaymentId });
      // Our own refund (the buyer cancelled) always moves the booking out of CONFIRMED first.
      if (existing && existing.reason !== RefundReason.CANCELLED_AT_GATEWAY) return;
      const full = balance <= 0;
      if (existing && !full) return; // the same partial cancel, already waiting for an operator
      const now = this.clock.now();
      const refund =
        existing ??
        tx.create(Refund, {
          gatewayPaymentId: payment.gatewayPaymentId,
          reservation,
          amount: full ? record.amount : balance,
          currency: payment.currency,
          reason: RefundReason.CANCELLED_AT_GATEWAY,
          giveUpAt: now,
          createdAt: now,
          updatedAt: now,
        });
      if (full) {
        reservation.status = ReservationStatus.CANCELLED;
        reservation.cancelledAt = now;
        refund.status = RefundStatus.SUCCEEDED;
        refund.succeededAt = now;
        refund.amount = record.amount;
        refund.lastError = null;
      } else {
        refund.status = RefundStatus.NEEDS_ATTENTION;
        refund.lastError = `PortOne shows ${payment.cancelledAmount} of ${payment.amount} cancelled outside this server; ${balance} is still paid`;
      }
      refund.nextAttemptAt = null;
      refund.gatewayCancellationId = payment.cancellations[payment.cancellations.length - 1]?.cancellationId ?? null;
      this.events.externalCancel(tx, payment, reservation, refund, { full, source });
      await tx.flush();
    });
  }
}
