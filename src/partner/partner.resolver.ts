import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { FreshLoadersPerMutation } from '../graphql/fresh-loaders.middleware';
import { requireAdmin, requirePartner } from '../auth/identity';
import type { RequestContext } from '../graphql/context';
import { RefundView } from '../payment/graphql/payment.types';
import type { BookingRecord, PartnerService } from './partner.service';
import { BookingStatusView, CreatePartnerInput, PartnerCreated, PartnerView } from './partner.types';

@Resolver(() => BookingStatusView)
export class PartnerResolver {
  constructor(private readonly partnerService: PartnerService) {}

  @Query(() => BookingStatusView, { nullable: true, description: 'Partner API key; null when unknown or not one of your events.' })
  async bookingStatus(@Arg('merchantUid') merchantUid: string, @Ctx() ctx: RequestContext): Promise<BookingStatusView | null> {
    const { eventIds } = requirePartner(ctx.viewer);
    const [reservation] = await this.partnerService.bookingStatuses(ctx.em, eventIds, [merchantUid]);
    primeSeatsAndEvents(ctx, reservation ? [reservation] : []);
    return reservation ? BookingStatusView.from(reservation) : null;
  }

  @Query(() => [BookingStatusView], {
    description: 'Partner API key; at most 100 order ids. Unknown ones and other events\' bookings are left out.',
  })
  async bookingStatuses(@Arg('merchantUids', () => [String]) merchantUids: string[], @Ctx() ctx: RequestContext): Promise<BookingStatusView[]> {
    const { eventIds } = requirePartner(ctx.viewer);
    const reservations = await this.partnerService.bookingStatuses(ctx.em, eventIds, merchantUids);
    primeSeatsAndEvents(ctx, reservations);
    return reservations.map(BookingStatusView.from);
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description: 'Won PortOne reported as paid for the payment that backs this booking (else the latest decided one), if any.',
  })
  paidAmount(@Root() status: BookingStatusView): number | null {
    return status.money.paidAmount === null ? null : Math.round(status.money.paidAmount);
  }

  @FieldResolver(() => RefundView, { nullable: true, description: 'The refund of the payment that backs this booking, if any.' })
  refund(@Root() status: BookingStatusView): RefundView | null {
    // test/integration/partner/booking-money-parity.test.ts compares these views with the loader's.
    return status.money.refund && RefundView.from(status.money.refund, { forOperator: false });
  }

  @Query(() => [PartnerView], { description: 'Admin only.' })
  async partners(@Ctx() ctx: RequestContext): Promise<PartnerView[]> {
    requireAdmin(ctx.viewer);
    return (await this.partnerService.listPartners(ctx.em)).map(PartnerView.from);
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => PartnerCreated, { description: 'Admin only. The API key in the result is shown this once.' })
  async createPartner(@Arg('input') input: CreatePartnerInput, @Ctx() ctx: RequestContext): Promise<PartnerCreated> {
    requireAdmin(ctx.viewer);
    const { partner, apiKey } = await this.partnerService.createPartner(ctx.em, input);
    return Object.assign(new PartnerCreated(), { partner: PartnerView.from(partner), apiKey });
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => PartnerView, { description: 'Admin only. The key stops working at once.' })
  async revokePartner(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<PartnerView> {
    requireAdmin(ctx.viewer);
    return PartnerView.from(await this.partnerService.revokePartner(ctx.em, id));
  }
}

/** Seats and events came with the bookings' query; nested field resolvers should not fetch them again. */
function primeSeatsAndEvents(ctx: RequestContext, reservations: BookingRecord[]): void {
  for (const { seat } of reservations) {
    ctx.loaders.seatById.prime(seat.id, seat);
    ctx.loaders.eventById.prime(seat.event.id, seat.event);
  }
}
