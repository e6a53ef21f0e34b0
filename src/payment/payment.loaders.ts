import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Payment } from './payment.entity';
import { Refund } from './refund.entity';

export function createPaymentLoaders(em: EntityManager) {
  return {
    /** The most recently decided payment of each reservation, or null. */
    latestPaymentByReservationId: new DataLoader<string, Payment | null>(async (ids) => {
      const rows = await em.find(Payment, { reservation: { $in: [...ids] } }, { orderBy: { decidedAt: 'asc' } });
      const latest = new Map<string, Payment>();
      for (const row of rows) latest.set(row.reservation.id, row);
      return ids.map((id) => latest.get(id) ?? null);
    }),
    /** The most recent refund of each reservation, or null. */
    latestRefundByReservationId: new DataLoader<string, Refund | null>(async (ids) => {
      const rows = await em.find(Refund, { reservation: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } });
      const latest = new Map<string, Refund>();
      for (const row of rows) latest.set(row.reservation.id, row);
      return ids.map((id) => latest.get(id) ?? null);
    }),
  };
}
