import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { Event } from '../booking/event.entity';
import { Reservation } from '../booking/reservation.entity';
import { Seat } from '../booking/seat.entity';
import { Payment } from '../payment/settlement/payment.entity';
import { PaymentEvent } from '../payment/event-log/payment-event.entity';
import { Refund } from '../payment/refunds/refund.entity';
import { Partner } from '../partner/partner.entity';
import { SweepCursor } from '../payment/reconciliation/sweep-cursor.entity';
import { WebhookDelivery } from '../payment/adapters/webhook-delivery.entity';
import { VirtualAccount } from '../payment/reconciliation/virtual-account.entity';

export const entities = [Event, Seat, Reservation, Payment, Refund, PaymentEvent, Partner, SweepCursor, VirtualAccount, WebhookDelivery];

/**
 * One place that knows how we talk to PostgreSQL. Tests and the CLI build on it with overrides.
 * `allowGlobalContext: false` makes any accidental use of the global EntityManager in request code fail.
 */
export function createOrmConfig(clientUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl,
    entities,
    extensions: [Migrator],
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    pool: { min: 0, max: 20 },
    // graphile-worker owns its schema and migrates it itself; ours must never propose to drop it.
    schemaGenerator: { ignoreSchema: ['graphile_worker'] },
    migrations: {
      path: 'dist/src/db/migrations',
      pathTs: 'src/db/migrations',
      glob: '!(*.d).{js,ts}',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
    ...overrides,
  });
}
