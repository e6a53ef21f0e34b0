import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireAdmin } from '../auth/identity';
import type { RequestContext } from '../graphql/context';
import { CreateEventInput, EventView, SeatView } from './booking.types';
import type { EventService } from './event.service';

@Resolver(() => EventView)
export class EventResolver {
  constructor(private readonly eventService: EventService) {}

  @Query(() => [EventView], { description: 'Events that have not started yet, soonest first. `event(id:)` also finds past ones.' })
  async events(@Ctx() ctx: RequestContext): Promise<EventView[]> {
    return (await this.eventService.listEvents(ctx.em)).map(EventView.from);
  }

  @Query(() => EventView, { nullable: true })
  async event(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<EventView | null> {
    const event = await this.eventService.findEvent(ctx.em, id);
    return event && EventView.from(event);
  }

  @Mutation(() => EventView, { description: 'Admin only.' })
  async createEvent(@Arg('input') input: CreateEventInput, @Ctx() ctx: RequestContext): Promise<EventView> {
    requireAdmin(ctx.viewer);
    return EventView.from(await this.eventService.createEvent(ctx.em, input));
  }

  @FieldResolver(() => [SeatView])
  async seats(@Root() event: EventView, @Ctx() ctx: RequestContext): Promise<SeatView[]> {
    return (await ctx.loaders.seatsByEventId.load(event.id)).map(SeatView.from);
  }
}

@Resolver(() => SeatView)
export class SeatResolver {
  @FieldResolver(() => EventView)
  async event(@Root() seat: SeatView, @Ctx() ctx: RequestContext): Promise<EventView> {
    const event = await ctx.loaders.eventById.load(seat.eventId);
    if (!event) throw new Error(`Seat ${seat.id} points at a missing event ${seat.eventId}`);
    return EventView.from(event);
  }

  @FieldResolver(() => Boolean, { description: 'False while someone holds or has booked the seat, and once its event has started.' })
  async available(@Root() seat: SeatView, @Ctx() ctx: RequestContext): Promise<boolean> {
    const event = await ctx.loaders.eventById.load(seat.eventId);
    if (!event || event.startsAt.getTime() <= Date.now()) return false;
    return (await ctx.loaders.activeReservationBySeatId.load(seat.id)) === null;
  }
}
