import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import type { CheckoutPaymentWindow } from '../../src/http/demo-checkout.settings';
import {
  DemoConfirmPaymentDocument,
  DemoEventsDocument,
  DemoHoldSeatDocument,
  DemoReservationDocument,
  type ConfirmPaymentInput,
  type DemoConfirmPaymentMutation,
  type DemoReservationFragment,
} from './generated';
import { paymentFromRedirect, requestPayment, type PaymentWindowResult } from './payment-window';

/** The language the server writes buyer messages in (PaymentRefunded.message), sent as Accept-Language. */
export type Language = 'ko' | 'en';

type Outcome = DemoConfirmPaymentMutation['confirmPayment'];

const won = (amount: number) => `₩${amount.toLocaleString('ko-KR')}`;

/**
 * Pick a seat, hold it, pay in the PortOne window, confirm with the server, show what the server decided.
 * The page never decides anything about money: it sends identifiers and shows the server's answer.
 */
export function Checkout({ payment, language }: { payment: CheckoutPaymentWindow; language: Language }) {
  const [hold, setHold] = useState<DemoReservationFragment | null>(null);
  const [windowResult, setWindowResult] = useState<PaymentWindowResult | null>(null);
  const [confirmInput, setConfirmInput] = useState<ConfirmPaymentInput | null>(null);
  const [paying, setPaying] = useState(false);
  const [holdSeat, held] = useMutation(DemoHoldSeatDocument);
  const [confirmPayment, confirmed] = useMutation(DemoConfirmPaymentDocument);
  const [redirect] = useState(() => paymentFromRedirect(window.location.search));

  const confirm = (input: ConfirmPaymentInput) => {
    setConfirmInput(input);
    // A repeated confirmPayment is answered with the same outcome: asking again in another language is safe.
    confirmPayment({ variables: { input }, context: { headers: { 'accept-language': language } } }).catch(() => undefined);
  };

  useEffect(() => {
    if (confirmInput) confirm(confirmInput);
    // Only a language switch asks again; the first confirm comes from the payment window.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language]);

  useEffect(() => {
    // Back from a mobile payment window (a redirect instead of a callback).
    if (!redirect) return;
    setWindowResult(redirect.result);
    if (redirect.result.outcome === 'paid') {
      confirm({ reservationId: redirect.reservationId, paymentId: redirect.result.paymentId, merchantUid: redirect.result.merchantUid });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const pay = async (reservation: DemoReservationFragment) => {
    setPaying(true);
    setWindowResult(null);
    const result = await requestPayment(payment, {
      reservationId: reservation.id,
      merchantUid: reservation.merchantUid,
      amount: reservation.amount,
      orderName: `${reservation.seat.event.title} · ${reservation.seat.label}`,
    }).finally(() => setPaying(false));
    setWindowResult(result);
    if (result.outcome === 'paid') confirm({ reservationId: reservation.id, paymentId: result.paymentId, merchantUid: result.merchantUid });
  };

  const watched = confirmed.data?.confirmPayment.reservation.id ?? (windowResult?.outcome === 'closed' ? hold?.id : redirect?.reservationId);
  return (
    <main>
      {!hold && !redirect && (
        <SeatPicker
          holding={held.loading}
          onHold={async (seatId) => {
            const result = await holdSeat({ variables: { input: { seatId } } }).catch(() => null);
            if (result?.data) setHold(result.data.holdSeat);
          }}
        />
      )}
      {held.error && <p className="notice">Could not hold the seat: {held.error.message}</p>}
      {hold && !watched && <HoldPanel hold={hold} paying={paying || confirmed.loading} onPay={() => void pay(hold)} />}
      {windowResult?.outcome === 'failed' && <p className="notice">PortOne: {windowResult.message}</p>}
      {confirmed.error && <p className="notice">confirmPayment failed: {confirmed.error.message}</p>}
      {windowResult?.outcome === 'closed' && !confirmed.data && (
        <p className="muted">The payment window closed without answering. If you paid, PortOne tells the server (webhook); this page follows the reservation.</p>
      )}
      {watched && <OutcomePanel reservationId={watched} outcome={confirmed.data?.confirmPayment ?? null} />}
    </main>
  );
}

function SeatPicker({ holding, onHold }: { holding: boolean; onHold: (seatId: string) => void }) {
  const { data, loading, error } = useQuery(DemoEventsDocument, { fetchPolicy: 'cache-and-network' });
  const [eventId, setEventId] = useState<string | null>(null);
  const [seatId, setSeatId] = useState<string | null>(null);
  if (error) return <p className="notice">Could not load events: {error.message}</p>;
  if (loading && !data) return <p className="muted">Loading events…</p>;
  const event = data?.events.find((e) => e.id === eventId);
  return (
    <section>
      <h2>1 · Event and seat</h2>
      <div className="events">
        {data?.events.map((e) => (
          <button key={e.id} type="button" className="choice" aria-pressed={e.id === eventId} onClick={() => {
              setEventId(e.id);
              setSeatId(null);
            }}>
            {e.title}
            <small>{new Date(e.startsAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}</small>
          </button>
        ))}
        {data?.events.length === 0 && <p className="muted">No upcoming events.</p>}
      </div>
      {event && (
        <div className="seats">
          {event.seats.map((seat) => (
            <button key={seat.id} type="button" className="choice" disabled={!seat.available} aria-pressed={seat.id === seatId} onClick={() => setSeatId(seat.id)}>
              {seat.label}
              <small>{won(seat.price)}</small>
            </button>
          ))}
        </div>
      )}
      <p>
        <button className="primary" type="button" disabled={!seatId || holding} onClick={() => seatId && onHold(seatId)}>
          Hold seat
        </button>
      </p>
    </section>
  );
}

function HoldPanel({ hold, paying, onPay }: { hold: DemoReservationFragment; paying: boolean; onPay: () => void }) {
  const left = useSecondsUntil(hold.expiresAt);
  return (
    <section>
      <h2>2 · Pay</h2>
      <dl>
        <dt>Event</dt>
        <dd>{hold.seat.event.title}</dd>
        <dt>Seat</dt>
        <dd>{hold.seat.label}</dd>
        <dt>Amount</dt>
        <dd>{won(hold.amount)}</dd>
        <dt>Order id</dt>
        <dd>{hold.merchantUid}</dd>
        <dt>Held for</dt>
        <dd className="countdown" id="countdown">
          {left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'expired (a payment is still accepted while the seat stays free)'}
        </dd>
      </dl>
      <button className="primary" type="button" disabled={paying} onClick={onPay}>
        Pay {won(hold.amount)} with PortOne
      </button>
    </section>
  );
}

/**
 * The server's answer, kept current: the reservation is read again while it is HELD (a closed window: the
 * webhook settles it) and while its refund is PENDING, as often as Refund.pollAfterSeconds says.
 */
function OutcomePanel({ reservationId, outcome }: { reservationId: string; outcome: Outcome | null }) {
  const [pollInterval, setPollInterval] = useState(2000);
  const { data } = useQuery(DemoReservationDocument, { variables: { id: reservationId }, pollInterval, notifyOnNetworkStatusChange: false });
  const reservation = data?.reservation ?? outcome?.reservation ?? null;
  const refund = reservation?.refund ?? (outcome?.__typename === 'PaymentRefunded' ? outcome.refund : null);
  const next = !reservation || reservation.status === 'HELD' ? 2000 : refund?.status === 'PENDING' ? Math.max(1, refund.pollAfterSeconds ?? 2) * 1000 : 0;
  useEffect(() => setPollInterval(next), [next]);

  if (!reservation) return <p className="muted">Reading the reservation…</p>;
  if (reservation.status === 'CONFIRMED') {
    return (
      <section className="outcome confirmed" data-outcome="confirmed">
        <h2>Booking confirmed</h2>
        <dl>
          <dt>Status</dt>
          <dd>
            <span className={`badge ${reservation.status}`}>{reservation.status}</span>
          </dd>
          <dt>Event</dt>
          <dd>{reservation.seat.event.title}</dd>
          <dt>Seat</dt>
          <dd>{reservation.seat.label}</dd>
          <dt>Paid</dt>
          <dd>{won(reservation.amount)}</dd>
          <dt>Order id</dt>
          <dd>{reservation.merchantUid}</dd>
          {outcome?.__typename === 'PaymentConfirmed' && (
            <>
              <dt>PortOne payment</dt>
              <dd>{outcome.paymentId}</dd>
            </>
          )}
        </dl>
        <BookAnother />
      </section>
    );
  }
  if (refund) {
    return (
      <section className="outcome refunded" data-outcome="refunded">
        <h2>Payment refunded</h2>
        {outcome?.__typename === 'PaymentRefunded' && (
          <p className="message" id="refund-message">
            {outcome.message}
          </p>
        )}
        <dl>
          <dt>Reason</dt>
          <dd>{refund.reason}</dd>
          <dt>Refund</dt>
          <dd>{won(refund.amount)}</dd>
          <dt>Refund status</dt>
          <dd>
            <span className={`badge ${refund.status}`} id="refund-status">
              {refund.status}
            </span>
            {refund.status === 'PENDING' && <span className="muted"> · checking again in {refund.pollAfterSeconds ?? 2} s</span>}
          </dd>
          <dt>Reservation</dt>
          <dd>
            {reservation.status} · {reservation.seat.event.title}, seat {reservation.seat.label}
          </dd>
          <dt>Order id</dt>
          <dd>{reservation.merchantUid}</dd>
        </dl>
        <BookAnother />
      </section>
    );
  }
  return (
    <section className="outcome" data-outcome="waiting">
      <h2>Waiting for PortOne…</h2>
      <p className="muted">
        Reservation {reservation.status}. No booking yet: the server confirms it as soon as PortOne reports the payment.
      </p>
    </section>
  );
}

function BookAnother() {
  return (
    <a className="muted" href={window.location.pathname}>
      Book another seat
    </a>
  );
}

function useSecondsUntil(iso: string): number {
  const seconds = () => Math.max(0, Math.round((new Date(iso).getTime() - Date.now()) / 1000));
  const [left, setLeft] = useState(seconds);
  useEffect(() => {
    const timer = window.setInterval(() => setLeft(seconds()), 1000);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [iso]);
  return left;
}
