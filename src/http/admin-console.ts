import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { bundleForBrowser } from './browser-bundle';
import { GRAPHQL_IDE_CSP_DIRECTIVES } from './graphql-ide';

const CONSOLE_SOURCE = join(process.cwd(), 'web', 'admin', 'console.ts');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Booking API · refunds</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #1d2433; }
  form { display: flex; gap: 8px; margin-bottom: 12px; }
  input { flex: 1; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border-bottom: 1px solid #dde; padding: 6px 8px; text-align: left; vertical-align: top; }
  td:nth-child(6) { max-width: 320px; overflow-wrap: anywhere; color: #8a1c1c; }
</style>
</head>
<body>
<h1>Refunds</h1>
<form id="controls">
  <input id="token" type="password" placeholder="Admin JWT (roles: [&quot;admin&quot;])" autocomplete="off">
  <select id="status">
    <option value="NEEDS_ATTENTION">NEEDS_ATTENTION</option>
    <option value="PENDING">PENDING</option>
    <option value="SUCCEEDED">SUCCEEDED</option>
    <option value="">all</option>
  </select>
  <button type="submit">Load</button>
</form>
<p id="notice" role="status"></p>
<table>
  <thead><tr><th>status</th><th>age</th><th>amount</th><th>reason</th><th>attempts</th><th>last gateway answer</th><th>payment</th><th></th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<script src="/admin/console.js"></script>
</body>
</html>
`;

/**
 * The operator console at /admin: a static page and its script, bundled with esbuild once per process on
 * its first request. It holds no data itself; every read and retry goes to /graphql with the operator's
 * admin JWT.
 */
export async function registerAdminConsole(server: FastifyInstance): Promise<void> {
  const helmet = { contentSecurityPolicy: { directives: GRAPHQL_IDE_CSP_DIRECTIVES } };
  server.get('/admin', { helmet }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  server.get('/admin/console.js', async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(Buffer.from(await bundleForBrowser(CONSOLE_SOURCE, { mode: 'production' }))),
  );
}
