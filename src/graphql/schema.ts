import 'reflect-metadata';
import { GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { ERROR_CODES } from '../errors';
import { buildSchema, type ContainerType } from 'type-graphql';
import { EventResolver, SeatResolver } from '../booking/event.resolver';
import { ReservationResolver } from '../booking/reservation.resolver';
import type { EventService } from '../booking/event.service';
import type { ReservationService } from '../booking/reservation.service';
import type { PaymentEventLog } from '../payment/event-log/payment-event-log';
import { PaymentResolver, ReservationRefundResolver } from '../payment/graphql/payment.resolver';
import type { PaymentSettlementService } from '../payment/settlement/payment-settlement.service';
import type { RefundService } from '../payment/refunds/refund.service';
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
  const schema = await buildSchema({
    resolvers: [EventResolver, SeatResolver, ReservationResolver, PaymentResolver, ReservationRefundResolver, PartnerResolver],
    container,
    validate: { forbidUnknownValues: false },
  });
  return describeSchema(schema);
}

/** The schema's own description, which GraphiQL and every introspecting client show: the flow and the error codes. */
function describeSchema(schema: GraphQLSchema): GraphQLSchema {
  const codes = Object.entries(ERROR_CODES).map(([code, meaning]) => `- ${code}: ${meaning}`);
  const description = [
    'Booking API: hold a seat, pay at PortOne with the reservation\'s merchantUid and amount, then confirmPayment.',
    'The server verifies every payment with PortOne and refunds what it cannot keep (PaymentRefunded); a refund',
    'starts PENDING and finishes on its own (poll Refund.status after Refund.pollAfterSeconds).',
    '',
    'Errors that move no money carry `extensions.code`:',
    ...codes,
  ].join('\n');
  const config = schema.toConfig();
  config.query && Object.assign(config.query, { description: 'Reads. Buyers and admins sign in with a JWT; partners with X-API-Key.' });
  config.mutation && Object.assign(config.mutation, { description: 'Writes. confirmPayment is safe to repeat: the same payment always gets the same outcome.' });
  return new GraphQLSchema({ ...config, description });
}

/** The committed SDL: sorted so that diffs show real changes only. */
export function renderSchemaSdl(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
