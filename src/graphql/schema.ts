import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType } from 'type-graphql';
import { EventResolver, SeatResolver } from '../booking/event.resolver';
import { ReservationResolver } from '../booking/reservation.resolver';
import type { EventService } from '../booking/event.service';
import type { ReservationService } from '../booking/reservation.service';

export interface SchemaServices {
  events: EventService;
  reservations: ReservationService;
}

/** Resolvers get their services from this hand-written container; no DI framework. */
export async function buildGraphQLSchema(services: SchemaServices): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>([
    [EventResolver, new EventResolver(services.events)],
    [SeatResolver, new SeatResolver()],
    [ReservationResolver, new ReservationResolver(services.reservations)],
  ]);
  const container: ContainerType = {
    get(someClass) {
      const instance = instances.get(someClass);
      if (!instance) throw new Error(`No resolver instance registered for ${String((someClass as { name?: string }).name)}`);
      return instance;
    },
  };
  return buildSchema({
    resolvers: [EventResolver, SeatResolver, ReservationResolver],
    container,
    validate: { forbidUnknownValues: false },
  });
}

/** The committed SDL: sorted so that diffs show real changes only. */
export function renderSchemaSdl(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
