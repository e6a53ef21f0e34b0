import { ArrayMaxSize, ArrayMinSize, IsUUID, Length } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { EventView, SeatView } from '../booking/booking.types';
import { type Reservation, ReservationStatus } from '../booking/reservation.entity';
import type { Partner } from './partner.entity';

@ObjectType('Partner')
export class PartnerView {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field({ description: 'The first characters of the API key, to tell keys apart.' })
  apiKeyPrefix: string;

  @Field(() => [ID])
  eventIds: string[];

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Date)
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

@ObjectType()
export class PartnerCreated {
  @Field(() => PartnerView)
  partner: PartnerView;

  @Field({ description: 'Shown once: only its hash is stored.' })
  apiKey: string;
}

@InputType()
export class CreatePartnerInput {
  @Field()
  @Length(1, 200)
  name: string;

  @Field(() => [ID])
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true, message: 'each of eventIds must be a UUID' })
  eventIds: string[];
}

@ObjectType('BookingStatus')
export class BookingStatusView {
  @Field()
  merchantUid: string;

  @Field(() => ReservationStatus)
  status: ReservationStatus;

  @Field(() => Int, { description: 'Price in won snapshotted at hold time.' })
  amount: number;

  @Field(() => Date)
  expiresAt: Date;

  @Field(() => Date, { nullable: true })
  confirmedAt: Date | null;

  @Field(() => Date, { nullable: true })
  cancelledAt: Date | null;

  @Field(() => SeatView)
  seat: SeatView;

  @Field(() => EventView)
  event: EventView;

  reservationId: string;

  static from(reservation: Reservation): BookingStatusView {
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
    });
  }
}
