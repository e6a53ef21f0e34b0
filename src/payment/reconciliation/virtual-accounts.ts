import type { EntityManager } from '@mikro-orm/postgresql';
import { VirtualAccount } from './virtual-account.entity';

/**
 * Remembers a virtual account PortOne issued for one of our reservations (once; seen again, it is
 * ignored), so reconciliation can revoke it when the hold ends unpaid. Settlement and the sweep both
 * meet issued accounts.
 */
export async function rememberVirtualAccount(em: EntityManager, gatewayPaymentId: string, reservationId: string, issuedAt: Date): Promise<void> {
  await em.createQueryBuilder(VirtualAccount).insert({ gatewayPaymentId, reservation: reservationId, issuedAt }).onConflict('gateway_payment_id').ignore().execute();
}
