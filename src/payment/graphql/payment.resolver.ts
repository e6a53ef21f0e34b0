import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { FreshLoadersPerMutation } from '../../graphql/fresh-loaders.middleware';
import { isAdmin, requireAdmin, requireUser } from '../../auth/identity';
import { LimitPerBuyer } from '../../graphql/buyer-rate-limit.middleware';
import { ReservationView } from '../../booking/booking.types';
import type { RequestContext } from '../../graphql/context';
import { mapPage, PageArgs, type Page } from '../../graphql/pagination';
import { PaymentEventPage, RefundPage } from './payment-pages.types';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { ReservationStatus } from '../../booking/reservation.entity';
import type { PaymentSettlementService } from '../settlement/payment-settlement.service';
import { isDecided, type Decided } from '../settlement/settlement-outcome';
import { refusalError } from './confirmation-refusals';
import {
  ConfirmPaymentInput,
  ConfirmPaymentResult,
  PaymentConfirmed,
  PaymentEventView,
  PaymentRefunded,
  ProvideRefundAccountInput,
  RefundView,
} from './payment.types';
import { RefundStatus } from '../refunds/refund.entity';
import { refundMessage } from '../refunds/refund-messages';
import type { RefundService } from '../refunds/refund.service';

/**
 * The request's loaders get what a decision just made already loaded, so the answer's reservation, seat,
 * event and refund cost no further query. A recorded decision primes nothing: it need not be the
 * reservation's latest money (an outside cancel's refund waiting for an operator, a newer payment's refund).
 */
function primeLoaders(ctx: RequestContext, outcome: Decided): void {
  if (!outcome.loaded) return;
  const { seat } = outcome.loaded;
  ctx.loaders.seatById.prime(seat.id, seat);
  ctx.loaders.eventById.prime(seat.event.id, seat.event);
  if (outcome.kind === 'CONFIRMED') ctx.loaders.moneyByReservationId.prime(outcome.reservation.id, { payment: outcome.payment, refund: null });
  else if (outcome.reservation.status !== ReservationStatus.CONFIRMED) {
    ctx.loaders.moneyByReservationId.prime(outcome.reservation.id, { payment: outcome.payment, refund: outcome.refund });
  }
}

@Resolver()
export class PaymentResolver {
  constructor(
    private readonly settlement: PaymentSettlementService,
    private readonly refundService: RefundService,
    private readonly eventLog: PaymentEventLog,
  ) {}

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => ConfirmPaymentResult, {
    description: 'Verifies the payment at PortOne; a payment that cannot be kept is cancelled by the server and returned as PaymentRefunded.',
  })
  @UseMiddleware(LimitPerBuyer('confirmPayment'))
  async confirmPayment(
    @Arg('input') input: ConfirmPaymentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<typeof ConfirmPaymentResult> {
    const outcome = await this.settlement.confirmForBuyer(ctx.em, requireUser(ctx.viewer), input);
    if (!isDecided(outcome)) throw refusalError(outcome);
    primeLoaders(ctx, outcome);
    const reservation = ReservationView.from(outcome.reservation);
    if (outcome.kind === 'CONFIRMED') {
      return Object.assign(new PaymentConfirmed(), {
        reservation,
        paymentId: outcome.payment.gatewayPaymentId,
        amount: outcome.payment.amount,
      });
    }
    return Object.assign(new PaymentRefunded(), {
      reservation,
      refund: RefundView.from(outcome.refund, { forOperator: isAdmin(ctx.viewer) }),
      reason: outcome.refund.reason,
      message: refundMessage(outcome.refund.reason, ctx.locale),
    });
  }

  @Query(() => [RefundView], { description: 'Admin only: the first page of refundsPage (50 unless `first` says otherwise).' })
  async refunds(
    @Arg('status', () => RefundStatus, { nullable: true }) status: RefundStatus | null,
    @Args() page: PageArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<RefundView[]> {
    requireAdmin(ctx.viewer);
    return (await this.refundService.list(ctx.em, status ?? null, page)).nodes.map((refund) => RefundView.from(refund, { forOperator: true }));
  }

  @Query(() => RefundPage, { description: 'Admin only: refunds newest first, optionally of one status, one page at a time.' })
  async refundsPage(
    @Arg('status', () => RefundStatus, { nullable: true }) status: RefundStatus | null,
    @Args() page: PageArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<RefundView>> {
    requireAdmin(ctx.viewer);
    return mapPage(await this.refundService.list(ctx.em, status ?? null, page), (refund) => RefundView.from(refund, { forOperator: true }));
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => RefundView, { description: 'Admin only: attempt a PENDING or NEEDS_ATTENTION refund again now.' })
  async retryRefund(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<RefundView> {
    requireAdmin(ctx.viewer);
    return RefundView.from(await this.refundService.retry(ctx.em, id), { forOperator: true });
  }

  @UseMiddleware(FreshLoadersPerMutation)
  @Mutation(() => RefundView, {
    description:
      'The buyer who owns the booking (or an admin) gives the bank account a virtual-account (vbank) refund is paid to; PortOne needs it. The refund is attempted at once.',
  })
  async provideRefundAccount(@Arg('input') input: ProvideRefundAccountInput, @Ctx() ctx: RequestContext): Promise<RefundView> {
    const actor = requireUser(ctx.viewer);
    return RefundView.from(await this.refundService.provideRefundAccount(ctx.em, actor, input), { forOperator: actor.isAdmin });
  }

  @Query(() => [PaymentEventView], {
    description: 'Admin only: the first page of paymentEventsPage (50 unless `first` says otherwise).',
  })
  async paymentEvents(
    @Arg('reservationId', () => ID) reservationId: string,
    @Args() page: PageArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<PaymentEventView[]> {
    requireAdmin(ctx.viewer);
    return (await this.eventLog.forReservation(ctx.em, reservationId, page)).nodes.map(PaymentEventView.from);
  }

  @Query(() => PaymentEventPage, { description: 'Admin only: the payment event log of one reservation, oldest first, one page at a time.' })
  async paymentEventsPage(
    @Arg('reservationId', () => ID) reservationId: string,
    @Args() page: PageArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<Page<PaymentEventView>> {
    requireAdmin(ctx.viewer);
    return mapPage(await this.eventLog.forReservation(ctx.em, reservationId, page), PaymentEventView.from);
  }
}

@Resolver(() => ReservationView)
export class ReservationRefundResolver {
  @FieldResolver(() => RefundView, {
    nullable: true,
    description: 'The refund of the payment that backs this booking, or of the latest payment when none backs it; null when none.',
  })
  async refund(@Root() reservation: ReservationView, @Ctx() ctx: RequestContext): Promise<RefundView | null> {
    const { refund } = await ctx.loaders.moneyByReservationId.load(reservation.id);
    return refund && RefundView.from(refund, { forOperator: isAdmin(ctx.viewer) });
  }
}
