import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType } from 'type-graphql';
import { EventResolver, SeatResolver } from '../booking/event.resolver';
import { ReservationResolver } from '../booking/reservation.resolver';
import type { EventService } from '../booking/event.service';
import type { ReservationService } from '../booking/reservation.service';
import type { PaymentEventLog } from '../payment/payment-event-log';
import { PaymentResolver, ReservationRefundResolver } from '../payment/payment.resolver';
import type { PaymentSettlementService } from '../payment/payment-settlement.service';
import type { RefundService } from '../payment/refund.service';
import { PartnerResolver } from '../partner/partner.resolver';
import type { PartnerService } from '../partner/partner.service';

export interface SchemaServices {
  events: EventService;
  reservations: ReservationService;
  settlement: PaymentSettlementService;
  refunds: RefundService;
  paymentEvents: PaymentEventLog;
  partners: PartnerService;
}

/** Resolvers get their services from this hand-written container; no DI framework. */
export async function buildGraphQLSchema(services: SchemaServices): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>([
    [EventResolver, new EventResolver(services.events)],
    [SeatResolver, new SeatResolver()],
    [ReservationResolver, new ReservationResolver(services.reservations)],
    [PaymentResolver, new PaymentResolver(services.settlement, services.refunds, services.paymentEvents)],
    [ReservationRefundResolver, new ReservationRefundResolver()],
    [PartnerResolver, new PartnerResolver(services.partners)],
  ]);
  const container: ContainerType = {
    get(someClass) {
      const instance = instances.get(someClass);
      if (!instance) throw new Error(`No resolver instance registered for ${String((someClass as { name?: string }).name)}`);
      return instance;
    },
  };
  return buildSchema({
    resolvers: [EventResolver, SeatResolver, ReservationResolver, PaymentResolver, ReservationRefundResolver, PartnerResolver],
    container,
    validate: { forbidUnknownValues: false },
  });
}

/** The committed SDL: sorted so that diffs show real changes only. */
export function renderSchemaSdl(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
