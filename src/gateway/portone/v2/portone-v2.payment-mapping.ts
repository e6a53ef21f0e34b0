import {
  GatewayError,
  type GatewayCancellation,
  type GatewayPayment,
  type GatewayPaymentStatus,
  type RefundAccount,
} from '../../payment-gateway';

/* PortOne V2's payment shapes to and from the domain's (amounts in the currency's smallest unit on the
 * wire, major units in the domain; statuses; payment methods; refund bank accounts). */

/** The fields of a V2 `Payment` (any status) this adapter reads; everything else is ignored. */
export interface V2PaymentBody {
  status: string;
  id: string;
  storeId: string;
  transactionId?: string;
  channel?: { type?: string };
  method?: { type?: string };
  amount: { total: number; cancelled?: number };
  currency: string;
  paidAt?: string;
  cancellations?: Array<{ status: string; id: string; totalAmount: number; reason?: string; cancelledAt?: string; requestedAt?: string }>;
}

const METHOD_NAMES: Record<string, string> = {
  PaymentMethodCard: 'card',
  PaymentMethodVirtualAccount: 'vbank',
  PaymentMethodTransfer: 'trans',
  PaymentMethodMobile: 'phone',
  PaymentMethodEasyPay: 'easy_pay',
  PaymentMethodGiftCertificate: 'gift_certificate',
  PaymentMethodConvenienceStore: 'cvs',
  PaymentMethodCrypto: 'crypto',
};

/**
 * Korean bank codes (as V1 and our RefundAccount carry them) to V2's `Bank` enum. A value that already is
 * a V2 bank name passes through.
 */
const V2_BANK_BY_CODE: Record<string, string> = {
  '002': 'KDB', '003': 'IBK', '004': 'KOOKMIN', '007': 'SUHYUP', '011': 'NONGHYUP', '012': 'LOCAL_NONGHYUP',
  '020': 'WOORI', '023': 'STANDARD_CHARTERED', '027': 'CITI', '031': 'DAEGU', '032': 'BUSAN', '034': 'KWANGJU',
  '035': 'JEJU', '037': 'JEONBUK', '039': 'KYONGNAM', '045': 'KFCC', '048': 'SHINHYUP', '050': 'SAVINGS_BANK',
  '071': 'POST', '081': 'HANA', '088': 'SHINHAN', '089': 'K_BANK', '090': 'KAKAO', '092': 'TOSS',
};

/** Which V2 statuses (filter enum: PENDING, not PAY_PENDING) and clock a V1-style sweep query means. */
export function toV2RefundAccount(account: RefundAccount) {
  const bank = /^[A-Z_]+$/.test(account.bank) ? account.bank : V2_BANK_BY_CODE[account.bank.padStart(3, '0')];
  if (!bank) throw new GatewayError('REJECTED', `refund account bank "${account.bank}" has no PortOne V2 bank name`, { gatewayCode: 'UNKNOWN_BANK' });
  return { bank, number: account.account, holderName: account.holder, ...(account.tel ? { holderPhoneNumber: account.tel } : {}) };
}

/** How many decimal places a currency's smallest unit has (KRW 0, USD 2), from ICU. */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 0;
  } catch {
    return 0;
  }
}

function toMajorUnits(minor: number, currency: string): number {
  return Math.round((minor / 10 ** minorDigits(currency)) * 10_000) / 10_000;
}

export function toMinorUnits(major: number, currency: string): number {
  return Math.round(major * 10 ** minorDigits(currency));
}

function gatewayStatus(body: V2PaymentBody): GatewayPaymentStatus {
  switch (body.status) {
    case 'PAID':
    case 'PARTIAL_CANCELLED':
      // Still paid: decisions use the balance (total − cancelled), as on V1 after a partial cancel.
      return 'PAID';
    case 'CANCELLED': {
      // paidAt is optional on a cancelled payment, so "was it ever paid" is read from what was cancelled:
      // a closed, never-deposited virtual account has cancelled nothing and is not a payment at all.
      const cancelledSomething = (body.amount.cancelled ?? 0) > 0 || (body.cancellations ?? []).length > 0;
      return body.paidAt || cancelledSomething ? 'CANCELLED' : 'FAILED';
    }
    case 'READY':
    case 'PAY_PENDING':
    case 'VIRTUAL_ACCOUNT_ISSUED':
      return 'READY';
    default:
      // FAILED, and any status PortOne adds later: not a payment we may confirm.
      return 'FAILED';
  }
}

/** A V2 payment (any status) as the domain sees it; the payment id is also the order id (our merchantUid). */
export function toGatewayPayment(body: V2PaymentBody): GatewayPayment {
  const currency = body.currency;
  const methodType = body.method?.type ?? '';
  const cancellations: GatewayCancellation[] = (body.cancellations ?? [])
    .filter((c) => c.status === 'SUCCEEDED')
    .map((c) => ({
      cancellationId: c.id,
      amount: toMajorUnits(c.totalAmount, currency),
      reason: c.reason ?? null,
      cancelledAt: new Date(c.cancelledAt ?? c.requestedAt ?? 0),
    }));
  return {
    gatewayPaymentId: body.id,
    merchantUid: body.id,
    storeId: body.storeId,
    status: gatewayStatus(body),
    amount: toMajorUnits(body.amount.total, currency),
    cancelledAmount: toMajorUnits(body.amount.cancelled ?? 0, currency),
    currency,
    paidAt: body.paidAt ? new Date(body.paidAt) : null,
    cancellations,
    sandbox: body.channel?.type === 'TEST',
    payMethod: METHOD_NAMES[methodType] ?? (methodType ? methodType.replace(/^PaymentMethod/, '').toLowerCase() : 'unknown'),
    isVirtualAccount: methodType === 'PaymentMethodVirtualAccount',
  };
}
