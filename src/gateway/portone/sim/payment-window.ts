import type { FastifyInstance } from 'fastify';

/**
 * What the window's buttons do: make the payment the way PortOne's window makes one (and notify), and
 * answer with what the SDK hands the checkout: V1 `request_pay`'s callback argument
 * (`{success, imp_uid, merchant_uid, paid_amount, error_msg}`), V2 `requestPayment`'s result
 * (`{transactionType, txId, paymentId, code?, message?}`).
 */
export type MakeWindowPayment = (input: { merchantUid: string; amount: number; paid: boolean; noticeUrl: string | null }) =>
  | { response: Record<string, unknown> }
  | { error: string; httpStatus: number };

/** The buyer's failure, as the SDKs report it. */
export const WINDOW_FAILURE_MESSAGE = '결제에 실패하였습니다. (simulator)';

/**
 * The simulator's stand-in for PortOne's payment window: the checkout opens
 * `__window?merchant_uid=…&amount=…&name=…&origin=…` (under the V1 or the V2 API's base URL) in a popup; the
 * buyer pays, fails, or pays and closes the window before the callback; a tamper switch pays another amount.
 * The SDK's answer goes back to the opener by postMessage, to `origin` only. "Pay, then close" sends
 * nothing: only the webhook tells the server.
 */
export function registerPaymentWindow(server: FastifyInstance, makePayment: MakeWindowPayment): void {
  server.get('/__window', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(WINDOW_PAGE),
  );
  server.get('/__window/window.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(WINDOW_SCRIPT),
  );
  server.post('/__window/payments', async (request, reply) => {
    const body = (request.body !== null && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
    const made = makePayment({
      merchantUid: typeof body.merchant_uid === 'string' ? body.merchant_uid : '',
      amount: Number(body.amount),
      paid: body.status !== 'failed',
      noticeUrl: typeof body.notice_url === 'string' && /^https?:\/\//.test(body.notice_url) ? body.notice_url : null,
    });
    if ('error' in made) return reply.code(made.httpStatus).send({ error: made.error });
    return reply.code(201).send(made);
  });
}

const WINDOW_PAGE = `<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PortOne 결제창 (simulator)</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; background: #f4f5f8; color: #1d2433; }
  header { background: #fc6b2d; color: white; padding: 14px 20px; font-weight: 600; }
  main { padding: 20px; max-width: 420px; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 6px 14px; margin: 0 0 18px; }
  dt { color: #667; } dd { margin: 0; font-weight: 600; }
  label { display: flex; gap: 8px; align-items: center; margin-bottom: 16px; color: #8a1c1c; }
  button { display: block; width: 100%; margin: 8px 0; padding: 11px; font: inherit; border-radius: 6px; border: 1px solid #ccd; background: white; cursor: pointer; }
  button.primary { background: #fc6b2d; border-color: #fc6b2d; color: white; font-weight: 600; }
  #status { min-height: 1.4em; color: #8a1c1c; }
</style>
</head>
<body>
<header>PortOne 결제창 · simulator</header>
<main>
<dl>
  <dt>주문명</dt><dd id="order-name"></dd>
  <dt>주문번호</dt><dd id="merchant-uid"></dd>
  <dt>결제금액</dt><dd id="amount"></dd>
</dl>
<label><input type="checkbox" id="tamper"> <span>금액 변조: <b id="tampered-amount"></b>원 결제 (tamper with the amount)</span></label>
<button class="primary" id="pay">결제하기 (pay)</button>
<button id="fail">결제 실패 (payment fails)</button>
<button id="pay-and-close">결제 후 창 닫기 (pay, then close the window)</button>
<p id="status" role="status"></p>
</main>
<script src="__window/window.js"></script>
</body>
</html>
`;

const WINDOW_SCRIPT = `'use strict';
(function () {
  var query = new URLSearchParams(location.search);
  var order = {
    merchantUid: query.get('merchant_uid') || '',
    amount: Number(query.get('amount')),
    name: query.get('name') || '',
    noticeUrl: query.get('notice_url'),
    origin: query.get('origin') || ''
  };
  var tamperedAmount = order.amount + 1000;
  var won = function (n) { return n.toLocaleString('ko-KR'); };
  document.getElementById('order-name').textContent = order.name;
  document.getElementById('merchant-uid').textContent = order.merchantUid;
  document.getElementById('amount').textContent = won(order.amount) + '원';
  document.getElementById('tampered-amount').textContent = won(tamperedAmount);
  var status = document.getElementById('status');

  function answer(response) {
    if (window.opener && order.origin) window.opener.postMessage({ source: 'portone-simulator', response: response }, order.origin);
    window.close();
  }
  function pay(paymentStatus) {
    var amount = document.getElementById('tamper').checked ? tamperedAmount : order.amount;
    // Relative: the window is served under the V1 or the V2 API's base URL.
    return fetch('__window/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ merchant_uid: order.merchantUid, amount: amount, status: paymentStatus, notice_url: order.noticeUrl })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || ('HTTP ' + response.status));
        return body.response;
      });
    });
  }
  function failed(error) {
    status.textContent = String(error && error.message ? error.message : error);
  }
  document.getElementById('pay').addEventListener('click', function () {
    pay('paid').then(answer, failed);
  });
  document.getElementById('fail').addEventListener('click', function () {
    pay('failed').then(answer, failed);
  });
  document.getElementById('pay-and-close').addEventListener('click', function () {
    pay('paid').then(function () { window.close(); }, failed);
  });
})();
`;
