import { createServer, type IncomingHttpHeaders } from 'node:http';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  contentType: string | undefined;
  /** The body as sent (a signature covers these bytes). */
  body: Buffer;
}

/** A stand-in for the merchant's webhook endpoint: records every request and answers `answer`. */
export interface WebhookReceiver {
  /** Where to send the notifications (`http://127.0.0.1:<port><path>`). */
  url: string;
  /** Every request, in the order it arrived; emptied by `clear`. */
  received: ReceivedWebhook[];
  /** The status every request is answered with; 200 until a test changes it. */
  answer: number;
  /** The bodies parsed as JSON, in order. */
  json<T = Record<string, unknown>>(): T[];
  /** Forgets what was received and answers 200 again. */
  clear(): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, contentType: request.headers['content-type'], body: Buffer.concat(chunks) });
      response.writeHead(receiver.answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('webhook receiver: no TCP address');
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${address.port}${path}`,
    received,
    answer: 200,
    json: <T>() => received.map((r) => JSON.parse(r.body.toString('utf8')) as T),
    clear() {
      received.length = 0;
      receiver.answer = 200;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
  return receiver;
}
