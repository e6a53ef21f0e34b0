import { AppError } from '../errors';
import { refusalError } from '../payment/graphql/confirmation-refusals';
import type { PaymentSettlementService } from '../payment/settlement/payment-settlement.service';
import type { ReconciliationService } from '../payment/reconciliation/reconciliation.service';
import type { AppMetrics } from './app-metrics';

/**
 * Counts the outcomes of two services from the outside, at the composition root, so the money path
 * itself carries no metrics code: every confirmPayment answer (by union member and reason, or error
 * code) and every reconciliation run with what its report found.
 */
export function instrumentServices(
  metrics: AppMetrics,
  services: { settlement: PaymentSettlementService; reconciliation: ReconciliationService },
): void {
  const { settlement, reconciliation } = services;
  const confirmForBuyer = settlement.confirmForBuyer.bind(settlement);
  settlement.confirmForBuyer = async (...args) => {
    try {
      const outcome = await confirmForBuyer(...args);
      metrics.confirmOutcomes.inc(
        outcome.kind === 'CONFIRMED'
          ? { result: 'PaymentConfirmed', reason: 'NONE' }
          : outcome.kind === 'REFUNDED'
            ? { result: 'PaymentRefunded', reason: outcome.refund.reason }
            : { result: 'error', reason: refusalError(outcome).code },
      );
      return outcome;
    } catch (error) {
      metrics.confirmOutcomes.inc({ result: 'error', reason: error instanceof AppError ? error.code : 'INTERNAL_SERVER_ERROR' });
      throw error;
    }
  };

  const run = reconciliation.run.bind(reconciliation);
  reconciliation.run = async () => {
    try {
      const report = await run();
      metrics.recordReconciliation(report);
      return report;
    } catch (error) {
      metrics.recordReconciliation(null);
      throw error;
    }
  };
}
