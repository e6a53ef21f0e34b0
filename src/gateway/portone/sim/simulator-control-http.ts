import fetch from 'node-fetch';

/**
 * One call to a simulator's `/__control` API, shared by the V1 and V2 control clients: a JSON body when
 * given, the JSON answer (undefined when empty), and any non-2xx answer thrown with its status and body.
 * `label` names the simulator in that error (`V2 simulator control`, say).
 */
export async function simulatorControlRequest<T>(baseUrl: string, method: string, path: string, body?: unknown, label = 'simulator control'): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${label} ${method} ${path}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * What the V1 and V2 simulators' control APIs have in common (faults cleared, reset, the ledger read);
 * each version's client adds its own payments and knobs on top.
 */
export abstract class SimulatorControlHttpClient<Ledger> {
  protected constructor(
    protected readonly baseUrl: string,
    private readonly label: string,
  ) {}

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/__control/faults');
  }

  async reset(): Promise<void> {
    await this.post('/__control/reset', {});
  }

  async ledger(): Promise<Ledger> {
    return this.request('GET', '/__control/ledger');
  }

  protected post<T>(path: string, body: unknown): Promise<T> {
    return this.request('POST', path, body);
  }

  protected request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return simulatorControlRequest(this.baseUrl, method, path, body, this.label);
  }
}
