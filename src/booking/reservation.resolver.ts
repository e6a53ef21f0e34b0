import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { FreshLoadersPerMutation } from '../graphql/fresh-loaders.middleware';
import { requireUser } from '../auth/identity';
import { LimitPerBuyer } from '../graphql/buyer-rate-limit.middleware';
import type { RequestContext } from '../graphql/context';
import { mapPage, PageArgs, type Page } from '../graphql/pagination';
import { ReservationPage } from './booking-pages.types';
import { CancelReservationInput, HoldSeatInput, ReservationView, SeatView } from './booking.types';
import { ReservationStatus } from './reservation.entity';
import type { ReservationService } from './reservation.service';

@Resolver(() => ReservationView)
export class ReservationResolver {
  constructor(private readonly reservationService: ReservationService) {}

  @Query(() => ReservationView, { nullable: true, description: 'The owner, or an admin.' })
  async reservation(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ReservationView | null> {
    const reservation = await this.reservationService.findVisible(ctx.em, requireUser(ctx.viewer), id);
    return reservation && ReservationView.from(reservation);
  }

  @Query(() => [ReservationView], { description: 'The first page of myReservationsPage (50 unless `first` says otherwise).' })
  async myReservations(@Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<ReservationView[]> {
    const { userId } = requireUser(ctx.viewer);
    return (await this.reservationService.listForBuyer(ctx.em, userId, page)).nodes.map(ReservationView.from);
  }

  @Query(() => ReservationPage, { description: "The signed-in buyer's reservations, newest first, one page at a time." })
  async myReservationsPage(@Args() page: PageArgs, @Ctx() ctx: RequestContext): Promise<Page<ReservationView>> {
    const { userId } = requireUser(ctx.viewer);
    return mapPage(await this.reservationService.listForBuyer(ctx.em, userId, page), ReservationView.from);
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => ReservationView, {
    description: 'Holds a seat for the signed-in buyer until expiresAt. Holding a seat you already hold returns that hold.',
  })
  @UseMiddleware(LimitPerBuyer('holdSeat'))
  async holdSeat(@Arg('input') input: HoldSeatInput, @Ctx() ctx: RequestContext): Promise<ReservationView> {
    const { userId } = requireUser(ctx.viewer);
    return ReservationView.from(await this.reservationService.holdSeat(ctx.em, userId, input.seatId));
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => ReservationView, {
    description: 'Releases a HELD seat; a CONFIRMED booking is cancelled and its payment refunded.',
  })
  async cancelReservation(@Arg('input') input: CancelReservationInput, @Ctx() ctx: RequestContext): Promise<ReservationView> {
    const actor = requireUser(ctx.viewer);
    return ReservationView.from(await this.reservationService.cancelReservation(ctx.em, actor, input.reservationId));
  }

  @FieldResolver(() => ReservationStatus, {
    description: 'HELD until expiresAt (and the payment grace after it), then CONFIRMED, EXPIRED or CANCELLED.',
  })
  status(@Root() reservation: ReservationView): ReservationStatus {
    return this.reservationService.statusAsSeen(reservation);
  }

  @FieldResolver(() => SeatView, { description: 'The seat held or booked, at its current price (the amount to pay is `amount`).' })
  async seat(@Root() reservation: ReservationView, @Ctx() ctx: RequestContext): Promise<SeatView> {
    const seat = await ctx.loaders.seatById.load(reservation.seatId);
    if (!seat) throw new Error(`Reservation ${reservation.id} points at a missing seat ${reservation.seatId}`);
    return SeatView.from(seat);
  }
}
