import PortOne, { type PaymentResponse } from '@portone/browser-sdk/v2';
import type { CheckoutPaymentWindow } from '../../src/http/demo-checkout.settings';

/** The order the buyer pays for: the server's hold, never an amount the page makes up. */
export interface PaymentOrder {
  reservationId: string;
  merchantUid: string;
  amount: number;
  orderName: string;
}

/**
 * What the PortOne window answered. `closed`: it went away without a callback (the buyer may have paid;
 * the webhook then settles the reservation, so the page watches it instead).
 */
export type PaymentWindowResult =
  | { outcome: 'paid'; paymentId: string; merchantUid: string }
  | { outcome: 'failed'; message: string }
  | { outcome: 'closed' };

/** V1's `request_pay` callback argument: the same shape from PortOne's SDK and the simulator's window. */
interface RequestPayResponse {
  success?: boolean;
  imp_success?: boolean;
  imp_uid?: string | null;
  merchant_uid: string;
  error_msg?: string;
}

declare global {
  interface Window {
    IMP?: {
      init(impCode: string): void;
      request_pay(request: Record<string, unknown>, callback: (response: RequestPayResponse) => void): void;
    };
  }
}

function fromRequestPay(response: RequestPayResponse): PaymentWindowResult {
  const paid = (response.success ?? response.imp_success) === true;
  return paid && response.imp_uid
    ? { outcome: 'paid', paymentId: response.imp_uid, merchantUid: response.merchant_uid }
    : { outcome: 'failed', message: response.error_msg ?? 'Payment failed' };
}

/**
 * Opens the PortOne window for `order` and resolves with its answer. Call it straight from a click
 * handler: the simulator's window is a popup, which browsers allow only in answer to a click.
 */
export function requestPayment(payment: CheckoutPaymentWindow, order: PaymentOrder): Promise<PaymentWindowResult> {
  switch (payment.kind) {
    case 'simulator':
      return simulatorWindow(payment, order);
    case 'portone-v1':
      return portOneV1(payment, order);
    case 'portone-v2':
      return portOneV2(payment, order);
    default:
      return Promise.resolve({ outcome: 'failed', message: `No payment window: ${payment.reason}` });
  }
}

function fromV2Response(response: PaymentResponse | undefined, merchantUid: string): PaymentWindowResult {
  if (!response) return { outcome: 'closed' };
  if (response.code !== undefined) return { outcome: 'failed', message: response.message ?? response.code };
  return { outcome: 'paid', paymentId: response.paymentId, merchantUid };
}

function simulatorWindow(
  { version, windowUrl, noticeUrl }: Extract<CheckoutPaymentWindow, { kind: 'simulator' }>,
  order: PaymentOrder,
): Promise<PaymentWindowResult> {
  const url = new URL(windowUrl);
  url.search = new URLSearchParams({
    merchant_uid: order.merchantUid,
    amount: String(order.amount),
    name: order.orderName,
    origin: window.location.origin,
    ...(noticeUrl ? { notice_url: noticeUrl } : {}),
  }).toString();
  const popup = window.open(url, 'portone-window', 'popup,width=460,height=560');
  if (!popup) return Promise.resolve({ outcome: 'failed', message: 'The browser blocked the payment window (popup).' });
  return new Promise((resolve) => {
    const finish = (result: PaymentWindowResult) => {
      window.removeEventListener('message', onMessage);
      window.clearInterval(watch);
      resolve(result);
    };
    const onMessage = (event: MessageEvent) => {
      if (event.origin !== url.origin || event.source !== popup || event.data?.source !== 'portone-simulator') return;
      const { response } = event.data;
      finish(version === 'v2' ? fromV2Response(response as PaymentResponse, order.merchantUid) : fromRequestPay(response as RequestPayResponse));
    };
    window.addEventListener('message', onMessage);
    // A message posted just before the window closed may still be on its way: give it a moment.
    let closedSince: number | null = null;
    const watch = window.setInterval(() => {
      if (!popup.closed) return;
      closedSince ??= Date.now();
      if (Date.now() - closedSince > 600) finish({ outcome: 'closed' });
    }, 200);
  });
}

let v1Sdk: Promise<NonNullable<Window['IMP']>> | null = null;

/** PortOne's V1 SDK is published only on its CDN: loaded once, on first use. */
function loadV1Sdk(sdkUrl: string): Promise<NonNullable<Window['IMP']>> {
  v1Sdk ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = sdkUrl;
    script.onload = () => (window.IMP ? resolve(window.IMP) : reject(new Error('PortOne V1 SDK did not load')));
    script.onerror = () => reject(new Error(`Could not load ${sdkUrl}`));
    document.head.appendChild(script);
  });
  return v1Sdk;
}

async function portOneV1(payment: Extract<CheckoutPaymentWindow, { kind: 'portone-v1' }>, order: PaymentOrder): Promise<PaymentWindowResult> {
  if (!payment.impCode) return { outcome: 'failed', message: 'PORTONE_IMP_CODE is not set on the server.' };
  const IMP = await loadV1Sdk(payment.sdkUrl);
  IMP.init(payment.impCode);
  return new Promise((resolve) => {
    IMP.request_pay(
      {
        ...(payment.channelKey ? { channelKey: payment.channelKey } : {}),
        pay_method: 'card',
        merchant_uid: order.merchantUid,
        name: order.orderName,
        amount: order.amount,
        // Mobile browsers leave the page and come back here with imp_uid, merchant_uid and imp_success.
        m_redirect_url: redirectUrl(order),
      },
      (response) => resolve(fromRequestPay(response)),
    );
  });
}

async function portOneV2(payment: Extract<CheckoutPaymentWindow, { kind: 'portone-v2' }>, order: PaymentOrder): Promise<PaymentWindowResult> {
  if (!payment.channelKey) return { outcome: 'failed', message: 'PORTONE_CHANNEL_KEY is not set on the server.' };
  // V2's paymentId is ours: the reservation's merchantUid, which the server looks the payment up by.
  const response = await PortOne.requestPayment({
    storeId: payment.storeId,
    channelKey: payment.channelKey,
    paymentId: order.merchantUid,
    orderName: order.orderName,
    totalAmount: order.amount,
    currency: 'CURRENCY_KRW',
    payMethod: 'CARD',
    redirectUrl: redirectUrl(order),
  });
  return fromV2Response(response, order.merchantUid);
}

/** Where a mobile payment window returns to: this page, told which reservation it was for. */
function redirectUrl(order: PaymentOrder): string {
  const url = new URL(window.location.href);
  url.search = new URLSearchParams({ reservation: order.reservationId, merchant_uid: order.merchantUid }).toString();
  return url.toString();
}

/**
 * After a mobile redirect: the payment the window reported in the URL (V1 `imp_uid`/`imp_success`, V2
 * `paymentId`/`code`), or null when this is an ordinary visit.
 */
export function paymentFromRedirect(search: string): { reservationId: string; result: PaymentWindowResult } | null {
  const query = new URLSearchParams(search);
  const reservationId = query.get('reservation');
  const merchantUid = query.get('merchant_uid');
  if (!reservationId || !merchantUid) return null;
  if (query.has('imp_uid')) {
    return { reservationId, result: fromRequestPay({ imp_success: query.get('imp_success') === 'true', imp_uid: query.get('imp_uid'), merchant_uid: merchantUid, error_msg: query.get('error_msg') ?? undefined }) };
  }
  if (query.has('paymentId')) {
    const code = query.get('code');
    return { reservationId, result: code ? { outcome: 'failed', message: query.get('message') ?? code } : { outcome: 'paid', paymentId: query.get('paymentId')!, merchantUid } };
  }
  return null;
}
