/**
 * `npm run bench:profile [-- --work holdSeat|statuses|confirm|refund] [--calls N] [--connections N] [--top N]`
 *
 * Starts the bench environment with this server under `node --cpu-prof`, drives one kind of call with
 * autocannon (after an untimed warm-up) and prints where the server's CPU went during the timed calls only:
 * self time by function and by file/package. The profile's sample clock and process.hrtime are both
 * CLOCK_MONOTONIC, so the harness marks the window and samples outside it (start-up, shutdown) are dropped.
 * The raw .cpuprofile is kept (its path is printed) for Chrome DevTools or speedscope.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buyerTokens, createEvent, createPartner, simulatorPayments } from './bench-data';
import { classify, confirmRequest, holdFromBody, holdRequest, statusesRequest, type Hold } from './calls';
import { startEnvironment, terminateChildren } from './environment';
import { measure, type CallRequest } from './measurement';

const log = (line: string) => process.stderr.write(`[profile] ${line}\n`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Calls `visit` with each sample taken between `from` and `to` (µs, CLOCK_MONOTONIC) and its duration in ms. */
function forEachSample(profile: CpuProfile, from: number, to: number, visit: (nodeId: number, ms: number) => void): void {
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    const next = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    if (at >= from && at <= to) visit(profile.samples[i], next / 1000);
  }
}

/** Self time (ms) per key over the samples taken between `from` and `to`. */
function selfTime(profile: CpuProfile, from: number, to: number, keyOf: (node: ProfileNode) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  forEachSample(profile, from, to, (nodeId, ms) => {
    const key = keyOf(byId.get(nodeId)!);
    totals.set(key, (totals.get(key) ?? 0) + ms);
  });
  return totals;
}

function fileOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (!url) return `(${node.callFrame.functionName || 'native'})`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

function functionOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const modules = url.lastIndexOf('node_modules/');
  const where = modules >= 0 ? url.slice(modules + 'node_modules/'.length) : fileOf(node);
  return `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
}

/** Time (ms) of the samples whose stack contains each key at least once (self + callees). */
function inclusiveTime(profile: CpuProfile, from: number, to: number, keyOf: (node: ProfileNode) => string): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  forEachSample(profile, from, to, (nodeId, ms) => {
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) seen.add(keyOf(byId.get(id)!));
    for (const key of seen) totals.set(key, (totals.get(key) ?? 0) + ms);
  });
  return totals;
}

function print(title: string, totals: Map<string, number>, calls: number, top: number): void {
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`\n${title} (total ${(sum / calls).toFixed(2)} ms/call)\n`);
  for (const [key, ms] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(ms / calls).toFixed(3).padStart(8)} ms/call ${((ms / sum) * 100).toFixed(1).padStart(5)} %  ${key}\n`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      work: { type: 'string', default: 'holdSeat' },
      calls: { type: 'string', default: '600' },
      connections: { type: 'string', default: '8' },
      top: { type: 'string', default: '40' },
    },
  });
  const calls = Number(values.calls);
  const connections = Number(values.connections);
  const dir = mkdtempSync(join(tmpdir(), 'booking-profile-'));
  const env = await startEnvironment('dist', log, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const stop = async () => {
    terminateChildren();
    await env.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  let window: [number, number];
  try {
    const apiKey = await createPartner(env, 'bench_app');
    const holdAll = async (count: number, prefix: string) => {
      const seats = await createEvent(env, 'bench_app', count, prefix);
      const tokens = await buyerTokens(count, prefix);
      const merchantUids: string[] = [];
      const holds: Hold[] = [];
      const requests = seats.map((seatId, i) => holdRequest('app', tokens[i], seatId));
      const started = process.hrtime.bigint();
      const m = await measure(env, env.app, requests, connections, classify, {
        onResult: (_request, _status, body) => {
          const hold = holdFromBody(body);
          if (hold) merchantUids.push(hold.merchantUid);
          const token = hold && tokens[seats.indexOf((JSON.parse(_request.body) as { variables: { input: { seatId: string } } }).variables.input.seatId)];
          if (hold && token) holds.push({ ...hold, token });
        },
      });
      return { m, merchantUids, holds, window: [Number(started / 1000n), Number(process.hrtime.bigint() / 1000n)] as [number, number] };
    };
    log('warming up');
    const warm = await holdAll(Math.max(100, connections * 4), 'warm');
    let m;
    if (values.work === 'holdSeat') {
      log(`timing ${calls} holdSeat at ${connections} connections`);
      ({ m, window } = await holdAll(calls, 'timed'));
    } else if (values.work === 'confirm' || values.work === 'refund') {
      const overpay = values.work === 'refund';
      const { holds } = await holdAll(calls, 'timed');
      const paymentIds = await simulatorPayments(env, holds, overpay);
      const requests = holds.map((hold, i) => confirmRequest('app', hold, paymentIds[i]));
      log(`timing ${requests.length} confirmPayment (${overpay ? 'refunded' : 'kept'}) at ${connections} connections`);
      const started = process.hrtime.bigint();
      m = await measure(env, env.app, requests, connections, classify);
      window = [Number(started / 1000n), Number(process.hrtime.bigint() / 1000n)];
    } else {
      const requests: CallRequest[] = Array.from({ length: calls }, () => statusesRequest('app', apiKey, warm.merchantUids.slice(-100)));
      await measure(env, env.app, requests.slice(0, 20), connections, classify);
      log(`timing ${calls} bookingStatuses(100) at ${connections} connections`);
      const started = process.hrtime.bigint();
      m = await measure(env, env.app, requests, connections, classify);
      window = [Number(started / 1000n), Number(process.hrtime.bigint() / 1000n)];
    }
    log(`${m.throughput.toFixed(0)} calls/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.cpuMsPerCall.toFixed(2)} CPU ms/call, ${m.statementsPerCall.toFixed(1)} SQL/call, outcomes ${JSON.stringify(m.outcomes)}`);
    for (const s of m.statements) log(`  ${s.perCall.toFixed(2)} per call, ${s.msEach.toFixed(3)} ms each in PostgreSQL  ${s.query}`);
  } finally {
    await stop();
  }
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  // The app is the only process started with the flag; the largest profile is it.
  const profiles = files.map((name) => ({ name, profile: JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile }));
  const app = profiles.sort((a, b) => b.profile.samples.length - a.profile.samples.length)[0];
  if (!app) throw new Error(`no profile written in ${dir}`);
  log(`profile: ${join(dir, app.name)}`);
  const top = Number(values.top);
  print('self time by file/package', selfTime(app.profile, window[0], window[1], fileOf), calls, top);
  print('self time by function', selfTime(app.profile, window[0], window[1], functionOf), calls, top);
  // Our own code and the libraries' entry points, with everything they call: where a request's time goes.
  const inclusive = inclusiveTime(app.profile, window[0], window[1], functionOf);
  const sampled = [...selfTime(app.profile, window[0], window[1], () => 'all').values()][0] ?? 0;
  process.stdout.write(`\ninclusive time by function (of ${(sampled / calls).toFixed(2)} ms/call sampled)\n`);
  for (const [key, ms] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top * 3)) {
    process.stdout.write(`${(ms / calls).toFixed(3).padStart(8)} ms/call  ${key}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  terminateChildren();
  process.exit(1);
});
