import type { Locale } from '../../graphql/context';
import { RefundReason } from './refund.entity';

const MESSAGES: Record<RefundReason, Record<Locale, string>> = {
  AMOUNT_MISMATCH: {
    ko: '결제 금액이 예약 금액과 달라 결제를 자동으로 취소했습니다.',
    en: 'The amount paid did not match the booking price, so the payment was cancelled automatically.',
  },
  MERCHANT_UID_MISMATCH: {
    ko: '결제의 주문 번호가 이 예약과 달라 결제를 자동으로 취소했습니다.',
    en: 'The payment was made for a different order, so it was cancelled automatically.',
  },
  CURRENCY_MISMATCH: {
    ko: '원화(KRW)가 아닌 통화로 결제되어 결제를 자동으로 취소했습니다.',
    en: 'The payment was not in Korean won (KRW), so it was cancelled automatically.',
  },
  SEAT_UNAVAILABLE: {
    ko: '좌석 선점 시간이 지나 다른 고객이 좌석을 예약했습니다. 결제를 자동으로 취소했습니다.',
    en: 'The seat hold expired and someone else took the seat, so the payment was cancelled automatically.',
  },
  RESERVATION_CANCELLED: {
    ko: '결제가 도착하기 전에 예약이 취소되어 결제를 자동으로 취소했습니다.',
    en: 'The reservation was cancelled before the payment arrived, so the payment was cancelled automatically.',
  },
  DUPLICATE_PAYMENT: {
    ko: '이미 다른 결제로 확정된 예약이라 이 결제를 자동으로 취소했습니다.',
    en: 'This booking was already paid by another payment, so this one was cancelled automatically.',
  },
  INTERNAL_ERROR: {
    ko: '예약을 확정하는 중 서버 오류가 발생해 결제를 자동으로 취소했습니다. 다시 시도해 주세요.',
    en: 'A server error occurred while confirming the booking, so the payment was cancelled automatically. Please try again.',
  },
  BUYER_CANCELLED: {
    ko: '예약 취소에 따라 결제를 환불했습니다.',
    en: 'The booking was cancelled and the payment refunded.',
  },
  CANCELLED_AT_GATEWAY: {
    ko: '결제가 판매자 또는 결제사에서 취소되어 예약이 취소되었습니다.',
    en: 'The payment was cancelled by the seller or the payment provider, so the booking was cancelled.',
  },
};

/** The buyer-facing explanation of a refund: Korean by default, English on request. */
export function refundMessage(reason: RefundReason, locale: Locale): string {
  return MESSAGES[reason][locale];
}
