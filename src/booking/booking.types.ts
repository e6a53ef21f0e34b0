import { ArrayMaxSize, ArrayMinSize, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Event } from './event.entity';
import { type Reservation, ReservationStatus } from './reservation.entity';
import type { Seat } from './seat.entity';

registerEnumType(ReservationStatus, {
  name: 'ReservationStatus',
  description: 'HELD until expiresAt, then CONFIRMED (paid and verified), EXPIRED or CANCELLED.',
});

/** The public shape of an event; ORM entities never leave the service layer as API types. */
@ObjectType('Event')
export class EventView {
  @Field(() => ID)
  id: string;

  @Field()
  title: string;

  @Field(() => Date)
  startsAt: Date;

  static from(event: Event): EventView {
    return Object.assign(new EventView(), { id: event.id, title: event.title, startsAt: event.startsAt });
  }
}

@ObjectType('Seat')
export class SeatView {
  @Field(() => ID)
  id: string;

  @Field()
  label: string;

  @Field(() => Int, { description: 'Current price in KRW (won).' })
  price: number;

  eventId: string;

  static from(seat: Seat): SeatView {
    return Object.assign(new SeatView(), { id: seat.id, label: seat.label, price: seat.price, eventId: seat.event.id });
  }
}

@ObjectType('Reservation')
export class ReservationView {
  @Field(() => ID)
  id: string;

  @Field(() => ReservationStatus)
  status: ReservationStatus;

  @Field({ description: 'Order id to pass to PortOne as merchant_uid.' })
  merchantUid: string;

  @Field(() => Int, { description: 'Price in KRW (won) snapshotted when the seat was held; the amount to pay.' })
  amount: number;

  @Field(() => Date, { description: 'End of the hold. A payment that arrives later is still accepted while the seat is free.' })
  expiresAt: Date;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  confirmedAt: Date | null;

  @Field(() => Date, { nullable: true })
  cancelledAt: Date | null;

  seatId: string;

  static from(reservation: Reservation): ReservationView {
    return Object.assign(new ReservationView(), {
      id: reservation.id,
      status: reservation.status,
      merchantUid: reservation.merchantUid,
      amount: reservation.amount,
      expiresAt: reservation.expiresAt,
      createdAt: reservation.createdAt,
      confirmedAt: reservation.confirmedAt,
      cancelledAt: reservation.cancelledAt,
      seatId: reservation.seat.id,
    });
  }
}

@InputType()
export class SeatInput {
  @Field()
  @Length(1, 50)
  label: string;

  @Field(() => Int, { description: 'Price in KRW (won).' })
  @Min(100)
  @Max(100_000_000)
  price: number;
}

@InputType()
export class CreateEventInput {
  @Field()
  @Length(1, 200)
  title: string;

  @Field(() => Date)
  startsAt: Date;

  @Field(() => [SeatInput])
  @ArrayMinSize(1)
  @ArrayMaxSize(5000)
  @ValidateNested({ each: true })
  seats: SeatInput[];
}

@InputType()
export class HoldSeatInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'seatId must be a UUID' })
  seatId: string;
}

@InputType()
export class CancelReservationInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'reservationId must be a UUID' })
  reservationId: string;
}
