import { spawn, spawnSync } from 'node:child_process';
import fetch from 'node-fetch';

/** `npm run simulator -- --port N`: the PortOne simulator alone, for frontend developers. */
test('npm run simulator starts the simulator with its control API, prints URL and credentials, and stops on SIGTERM', async () => {
  const child = spawn('npm', ['run', 'simulator', '--', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 60_000;
    while (!/^imp_secret:/m.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the simulator did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const url = /^PortOne V1 simulator: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output)![1];
    const impKey = /^imp_key:\s+(\S+)$/m.exec(output)![1];
    const impSecret = /^imp_secret:\s+(\S+)$/m.exec(output)![1];
    expect(output).toContain(`control API:          ${url}/__control`);

    // The printed credentials work against the printed URL, the way our client (or a frontend's backend) calls it.
    const auth = await fetch(`${url}/users/getToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ imp_key: impKey, imp_secret: impSecret }),
    });
    const token = ((await auth.json()) as { code: number; response: { access_token: string } }).response.access_token;
    expect(token).toEqual(expect.any(String));
    const refused = await fetch(`${url}/users/getToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ imp_key: impKey, imp_secret: 'wrong' }),
    });
    expect(refused.status).toBe(401);

    // The control API plays the payment window; the REST API then reports the payment.
    const created = await fetch(`${url}/__control/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ merchant_uid: 'frontend-order-1', amount: 15000 }),
    });
    expect(created.status).toBe(201);
    const impUid = ((await created.json()) as { imp_uid: string }).imp_uid;
    const read = await fetch(`${url}/payments/${impUid}`, { headers: { authorization: token } });
    expect(((await read.json()) as { response: { merchant_uid: string; amount: number; status: string } }).response).toMatchObject({
      merchant_uid: 'frontend-order-1',
      amount: 15000,
      status: 'paid',
    });
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
});

test('a bad --port is refused with a message naming it', () => {
  const run = spawnSync('npm', ['run', '-s', 'simulator', '--', '--port', '70000'], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('--port must be a whole number from 0 to 65535 (got "70000")');
});
