import { createPageType } from '../graphql/pagination';
import { EventView, ReservationView, SeatView } from './booking.types';

export const EventPage = createPageType('EventPage', EventView, 'A page of events, soonest first.');
export const SeatPage = createPageType('SeatPage', SeatView, 'A page of seats in natural label order (R2 before R10).');
export const ReservationPage = createPageType('ReservationPage', ReservationView, 'A page of reservations, newest first.');
