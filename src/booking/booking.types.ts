import { ArrayMaxSize, ArrayMinSize, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Event } from './event.entity';
import { type Reservation, ReservationStatus } from './reservation.entity';
import type { Seat } from './seat.entity';

registerEnumType(ReservationStatus, {
  name: 'ReservationStatus',
  description: 'HELD until expiresAt, then CONFIRMED (paid and verified), EXPIRED or CANCELLED.',
});

/** What an EventView is made of: an Event entity, or a row read without the ORM. */
export type EventFields = Pick<Event, 'id' | 'title' | 'startsAt'>;

/** What a SeatView is made of: a Seat entity, or a row read without the ORM. */
export type SeatFields = Pick<Seat, 'id' | 'label' | 'price'> & { event: { id: string } };

/** The public shape of an event; ORM entities never leave the service layer as API types. */
@ObjectType('Event', { description: 'Something to book seats for: a concert, a show, a match.' })
export class EventView {
  @Field(() => ID, { description: 'Stable id of the event.' })
  id: string;

  @Field({ description: 'Name shown to buyers.' })
  title: string;

  @Field(() => Date, { description: 'When the event starts; seats can be held and paid only before then.' })
  startsAt: Date;

  static from(event: EventFields): EventView {
    return Object.assign(new EventView(), { id: event.id, title: event.title, startsAt: event.startsAt });
  }
}

@ObjectType('Seat', { description: 'One bookable seat of an event.' })
export class SeatView {
  @Field(() => ID, { description: 'Pass it to holdSeat.' })
  id: string;

  @Field({ description: 'Seat label as printed on the ticket (A1, R10).' })
  label: string;

  @Field(() => Int, { description: 'Current price in KRW (won).' })
  price: number;

  eventId: string;

  static from(seat: SeatFields): SeatView {
    return Object.assign(new SeatView(), { id: seat.id, label: seat.label, price: seat.price, eventId: seat.event.id });
  }
}

@ObjectType('Reservation', { description: 'A buyer\'s hold on a seat and, once paid and verified, the booking. The PortOne payment is made for `amount` with `merchantUid` as the order id.' })
export class ReservationView {
  @Field(() => ID, { description: 'Pass it to confirmPayment and cancelReservation.' })
  id: string;

  @Field(() => ReservationStatus, {
    description: 'HELD until expiresAt (and the payment grace after it), then CONFIRMED, EXPIRED or CANCELLED.',
  })
  status: ReservationStatus;

  @Field({ description: 'Order id to pass to PortOne as merchant_uid.' })
  merchantUid: string;

  @Field(() => Int, { description: 'Price in KRW (won) snapshotted when the seat was held; the amount to pay.' })
  amount: number;

  @Field(() => Date, { description: 'End of the hold. A payment that arrives later is still accepted while the seat is free.' })
  expiresAt: Date;

  @Field(() => Date, { description: 'When the seat was held.' })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When the payment was verified and the booking confirmed; null until then.' })
  confirmedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the reservation was cancelled (by the buyer, or because its payment was cancelled at PortOne); null otherwise.' })
  cancelledAt: Date | null;

  seatId: string;

  static from(reservation: ReservationFields): ReservationView {
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

/** What a ReservationView is made of: a Reservation entity, or holdSeat's detached snapshot of one. */
export type ReservationFields = Pick<
  Reservation,
  'id' | 'status' | 'merchantUid' | 'amount' | 'expiresAt' | 'createdAt' | 'confirmedAt' | 'cancelledAt'
> & { seat: { id: string } };

@InputType({ description: 'A seat to create with an event.' })
export class SeatInput {
  @Field({ description: 'Unique within the event, 1 to 50 characters.' })
  @Length(1, 50)
  label: string;

  @Field(() => Int, { description: 'Price in KRW (won).' })
  @Min(100)
  @Max(100_000_000)
  price: number;
}

@InputType({ description: 'An event and its seats, created by an admin.' })
export class CreateEventInput {
  @Field({ description: '1 to 200 characters.' })
  @Length(1, 200)
  title: string;

  @Field(() => Date, { description: 'Must be in the future.' })
  startsAt: Date;

  @Field(() => [SeatInput], { description: '1 to 5000 seats with distinct labels.' })
  @ArrayMinSize(1)
  @ArrayMaxSize(5000)
  @ValidateNested({ each: true })
  seats: SeatInput[];
}

@InputType({ description: 'The seat to hold.' })
export class HoldSeatInput {
  @Field(() => ID, { description: 'Seat.id.' })
  @IsUUID('all', { message: 'seatId must be a UUID' })
  seatId: string;
}

@InputType({ description: 'The reservation to cancel.' })
export class CancelReservationInput {
  @Field(() => ID, { description: 'Reservation.id of your own reservation.' })
  @IsUUID('all', { message: 'reservationId must be a UUID' })
  reservationId: string;
}
