/// <reference lib="dom" />
// The operator console: the refund queue by status, and retryRefund with a confirmation. Plain DOM and
// fetch, bundled by esbuild when the server starts (src/http/admin-console.ts); every call needs an admin JWT.

interface RefundRow {
  id: string;
  amount: number;
  reason: string;
  status: string;
  attempts: number;
  paymentId: string;
  lastError: string | null;
  createdAt: string;
}

const QUEUE = `query OperatorRefunds($status: RefundStatus, $first: Int) {
  refundsPage(status: $status, first: $first) { nodes { id amount reason status attempts paymentId lastError createdAt } }
}`;
const RETRY = `mutation OperatorRetryRefund($id: ID!) { retryRefund(id: $id) { id status attempts lastError } }`;

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const tokenInput = element<HTMLInputElement>('token');
const statusSelect = element<HTMLSelectElement>('status');
const rows = element<HTMLTableSectionElement>('rows');
const notice = element<HTMLParagraphElement>('notice');

tokenInput.value = sessionStorage.getItem('adminToken') ?? '';

async function graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenInput.value.trim()}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (body.errors?.length) throw new Error(body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  return body.data as T;
}

function age(createdAt: string): string {
  const minutes = Math.floor((Date.now() - Date.parse(createdAt)) / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

async function load(): Promise<void> {
  sessionStorage.setItem('adminToken', tokenInput.value.trim());
  notice.textContent = 'Loading…';
  try {
    const data = await graphql<{ refundsPage: { nodes: RefundRow[] } }>(QUEUE, { status: statusSelect.value || null, first: 100 });
    rows.replaceChildren(
      ...data.refundsPage.nodes.map((refund) => {
        const tr = document.createElement('tr');
        tr.dataset.refundId = refund.id;
        tr.append(
          cell(refund.status),
          cell(age(refund.createdAt)),
          cell(`${refund.amount.toLocaleString('ko-KR')} ₩`),
          cell(refund.reason),
          cell(String(refund.attempts)),
          cell(refund.lastError ?? ''),
          cell(refund.paymentId),
        );
        const actions = document.createElement('td');
        if (refund.status !== 'SUCCEEDED') {
          const retry = document.createElement('button');
          retry.textContent = 'Retry';
          retry.addEventListener('click', () => void retryRefund(refund));
          actions.append(retry);
        }
        tr.append(actions);
        return tr;
      }),
    );
    notice.textContent = `${data.refundsPage.nodes.length} refund(s)`;
  } catch (error) {
    notice.textContent = String(error instanceof Error ? error.message : error);
  }
}

async function retryRefund(refund: RefundRow): Promise<void> {
  if (!confirm(`Cancel ${refund.amount} won of payment ${refund.paymentId} at PortOne now?`)) return;
  notice.textContent = 'Retrying…';
  try {
    const data = await graphql<{ retryRefund: { status: string } }>(RETRY, { id: refund.id });
    await load();
    notice.textContent = `Refund ${refund.id}: ${data.retryRefund.status}`;
  } catch (error) {
    notice.textContent = String(error instanceof Error ? error.message : error);
  }
}

element<HTMLFormElement>('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  void load();
});
if (tokenInput.value) void load();
