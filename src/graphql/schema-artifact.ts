import { resolve } from 'node:path';
import { EventService } from '../booking/event.service';
import { ReservationService } from '../booking/reservation.service';
import { systemClock } from '../clock';
import { buildGraphQLSchema, renderSchemaSdl } from './schema';

/** Resolved from the working directory: a `__dirname` path would differ between src/ and dist/. */
export const SCHEMA_FILE = resolve(process.cwd(), 'schema/schema.graphql');

/** Builds the schema with inert services: emitting the SDL needs no database or gateway. */
export async function emitSchemaSdl(): Promise<string> {
  const schema = await buildGraphQLSchema({
    events: new EventService(systemClock),
    reservations: new ReservationService(systemClock, 10),
    settlement: unused('settlement'),
    refunds: unused('refunds'),
    paymentEvents: unused('paymentEvents'),
    partners: unused('partners'),
  });
  return renderSchemaSdl(schema);
}

/** Stands in for a service the schema build never calls. */
function unused<T>(name: string): T {
  return new Proxy({}, {
    get() {
      throw new Error(`${name} is not available while emitting the schema`);
    },
  }) as T;
}
