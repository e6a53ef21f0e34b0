import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { parse } from 'yaml';
import { AppMetrics } from '../../src/observability/app-metrics';
import { registerRefundMetrics } from '../../src/payment/refunds/refund-metrics';

/**
 * The shipped Prometheus rules and Grafana dashboard stay valid and only name metrics the server exports.
 * `promtool` (Debian's prometheus package) checks and unit-tests the rules where it is installed.
 */
const OPS = join(process.cwd(), 'ops');
const RULES = join(OPS, 'prometheus', 'booking-alerts.rules.yml');
const RULE_TESTS = join(OPS, 'prometheus', 'booking-alerts.test.yml');
const DASHBOARD = join(OPS, 'grafana', 'booking-dashboard.json');
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function exportedSeriesNames(): Set<string> {
  const metrics = new AppMetrics();
  registerRefundMetrics(metrics.registry, {} as MikroORM);
  const names = new Set<string>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const name = (metric as unknown as { name: string }).name;
    names.add(name);
    for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${name}${suffix}`);
  }
  return names;
}

function bookingMetricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bbooking_[a-z_]+/g)].map((m) => m[0]);
}

describe('Prometheus alert rules', () => {
  const document = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> };
  const rules = document.groups.flatMap((group) => group.rules);

  test('every alert has an expression, a severity and a summary; the three the operators need exist', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect({ alert: rule.alert, expr: typeof rule.expr, severity: rule.labels?.severity, summary: typeof rule.annotations?.summary }).toEqual({
        alert: expect.stringMatching(/^Booking[A-Za-z]+$/),
        expr: 'string',
        severity: expect.stringMatching(/^(warning|critical)$/),
        summary: 'string',
      });
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
    const byMetric = (metric: string) => rules.filter((rule) => rule.expr.includes(metric)).map((rule) => rule.alert);
    expect(byMetric('booking_refund_oldest_pending_age_seconds')).toEqual(['BookingRefundStuckPending']);
    expect(byMetric('booking_refunds_needs_attention')).toEqual(['BookingRefundNeedsAttention']);
    expect(byMetric('booking_gateway_call_duration_seconds_count')).toEqual(['BookingGatewayErrorRate']);
  });

  test('they name only metrics the server exports', () => {
    const exported = exportedSeriesNames();
    for (const rule of rules) {
      for (const metric of bookingMetricsIn(rule.expr)) expect({ alert: rule.alert, metric, exported: exported.has(metric) }).toEqual({ alert: rule.alert, metric, exported: true });
    }
  });

  const withPromtool = existsSync(PROMTOOL) ? test : test.skip;
  withPromtool('promtool checks them and their unit tests pass (alerts fire when they should, and only then)', () => {
    expect(execFileSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync(PROMTOOL, ['test', 'rules', RULE_TESTS], { encoding: 'utf8' })).toContain('SUCCESS');
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    uid: string;
    panels: Array<{ id: number; title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }>;
  };

  test('panels have unique ids, use the datasource variable and query exported metrics only', () => {
    const exported = exportedSeriesNames();
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    const graphed = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid).toBe('${datasource}');
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        const metrics = bookingMetricsIn(target.expr);
        expect({ panel: panel.title, queriesOurMetrics: metrics.length > 0 }).toEqual({ panel: panel.title, queriesOurMetrics: true });
        for (const metric of metrics) {
          expect({ panel: panel.title, metric, exported: exported.has(metric) }).toEqual({ panel: panel.title, metric, exported: true });
          graphed.add(metric.replace(/_(bucket|count|sum)$/, ''));
        }
      }
    }
    // Every metric the server records is on the dashboard.
    expect([...exported].filter((name) => name.startsWith('booking_') && !/_(bucket|count|sum)$/.test(name)).sort()).toEqual([...graphed].sort());
  });
});
