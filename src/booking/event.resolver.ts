import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { FreshLoadersPerMutation } from '../graphql/fresh-loaders.middleware';
import { requireAdmin } from '../auth/identity';
import type { RequestContext } from '../graphql/context';
import { mapPage, PageArgs, type Page } from '../graphql/pagination';
import { EventPage, SeatPage } from './booking-pages.types';
import { CreateEventInput, EventView, SeatView } from './booking.types';
import type { EventService } from './event.service';

@Resolver(() => EventView)
export class EventResolver {
  constructor(private readonly eventService: EventService) {}

  @Query(() => [EventView], { description: 'The first page of eventsPage (50 events unless `first` says otherwise).' })
  async events(@Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<EventView[]> {
    return (await this.eventService.listEvents(ctx.em, page)).nodes.map(EventView.from);
  }

  @Query(() => EventPage, { description: 'Events that have not started yet, soonest first, one page at a time. `event(id:)` also finds past ones.' })
  async eventsPage(@Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<Page<EventView>> {
    return mapPage(await this.eventService.listEvents(ctx.em, page), EventView.from);
  }

  @Query(() => EventView, { nullable: true, description: 'Any event by id, past ones included; null when there is none.' })
  async event(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<EventView | null> {
    const event = await this.eventService.findEvent(ctx.em, id);
    return event && EventView.from(event);
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => EventView, { description: 'Admin only.' })
  async createEvent(@Arg('input') input: CreateEventInput, @Ctx() ctx: RequestContext): Promise<EventView> {
    requireAdmin(ctx.viewer);
    return EventView.from(await this.eventService.createEvent(ctx.em, input));
  }

  @FieldResolver(() => [SeatView], { description: 'The first page of seatsPage (50 seats unless `first` says otherwise).' })
  async seats(@Root() event: EventView, @Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<SeatView[]> {
    return (await ctx.loaders.seatPageByEvent.load({ eventId: event.id, ...page })).nodes.map(SeatView.from);
  }

  @FieldResolver(() => SeatPage, { description: 'Seats in natural label order (R2 before R10), one page at a time.' })
  async seatsPage(@Root() event: EventView, @Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<Page<SeatView>> {
    return mapPage(await ctx.loaders.seatPageByEvent.load({ eventId: event.id, ...page }), SeatView.from);
  }
}

@Resolver(() => SeatView)
export class SeatResolver {
  @FieldResolver(() => EventView, { description: 'The event this seat belongs to.' })
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
