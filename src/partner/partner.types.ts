import { ArrayMaxSize, ArrayMinSize, IsUUID, Length } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { EventView, SeatView } from '../booking/booking.types';
import { ReservationStatus } from '../booking/reservation.entity';
import type { BookingRecord } from './partner.service';
import type { Partner } from './partner.entity';

@ObjectType('Partner', { description: 'A partner (a ticket reseller, a venue) that reads booking statuses with an API key.' })
export class PartnerView {
  @Field(() => ID, { description: 'Stable id of the partner.' })
  id: string;

  @Field({ description: 'Display name.' })
  name: string;

  @Field({ description: 'The first characters of the API key, to tell keys apart.' })
  apiKeyPrefix: string;

  @Field(() => [ID], { description: 'Events whose bookings this partner may read.' })
  eventIds: string[];

  @Field(() => Date, { nullable: true, description: 'When its key was revoked; null while it works.' })
  revokedAt: Date | null;

  @Field(() => Date, { description: 'When the partner was created.' })
  createdAt: Date;

  static from(partner: Partner): PartnerView {
    return Object.assign(new PartnerView(), {
      id: partner.id,
      name: partner.name,
      apiKeyPrefix: partner.apiKeyPrefix,
      eventIds: partner.events.getItems().map((e) => e.id),
      revokedAt: partner.revokedAt,
      createdAt: partner.createdAt,
    });
  }
}

@ObjectType({ description: 'A new partner and its API key, shown this once.' })
export class PartnerCreated {
  @Field(() => PartnerView, { description: 'The partner created.' })
  partner: PartnerView;

  @Field({ description: 'Shown once: only its hash is stored.' })
  apiKey: string;
}

@InputType({ description: 'A partner to create and the events it may read.' })
export class CreatePartnerInput {
  @Field({ description: 'Display name.' })
  @Length(1, 200)
  name: string;

  @Field(() => [ID], { description: 'Existing event ids.' })
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true, message: 'each of eventIds must be a UUID' })
  eventIds: string[];
}

@ObjectType('BookingStatus', { description: 'A booking as a partner sees it, by its order id (merchantUid).' })
export class BookingStatusView {
  @Field({ description: 'The order id the partner asked about.' })
  merchantUid: string;

  @Field(() => ReservationStatus, { description: 'Reservation status (a hold past its end reads EXPIRED once the server expires it).' })
  status: ReservationStatus;

  @Field(() => Int, { description: 'Price in won snapshotted at hold time.' })
  amount: number;

  @Field(() => Date, { description: 'End of the hold.' })
  expiresAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the booking was confirmed; null until then.' })
  confirmedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the booking was cancelled; null otherwise.' })
  cancelledAt: Date | null;

  @Field(() => SeatView, { description: 'The seat booked.' })
  seat: SeatView;

  @Field(() => EventView, { description: 'The event of the seat.' })
  event: EventView;

  reservationId: string;

  /** Read with the booking (see PartnerService.bookingStatuses); the field resolvers shape them. */
  money: Pick<BookingRecord, 'paidAmount' | 'refund'>;

  static from(reservation: BookingRecord): BookingStatusView {
    return Object.assign(new BookingStatusView(), {
      merchantUid: reservation.merchantUid,
      status: reservation.status,
      amount: reservation.amount,
      expiresAt: reservation.expiresAt,
      confirmedAt: reservation.confirmedAt,
      cancelledAt: reservation.cancelledAt,
      seat: SeatView.from(reservation.seat),
      event: EventView.from(reservation.seat.event),
      reservationId: reservation.id,
      money: { paidAmount: reservation.paidAmount, refund: reservation.refund },
    });
  }
}
