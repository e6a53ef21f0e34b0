/**
 * Named points in the payment path where a test can make the process die (SIGKILL, like a power cut)
 * or throw. Inert unless enabled: by the FAILPOINTS environment variable of a test run
 * (`FAILPOINTS=after-decision-commit=kill`) or by a test calling `enable`.
 */
export type FailpointName = 'after-gateway-read' | 'before-decision-commit' | 'after-decision-commit' | 'after-cancel-sent';
/**
 * kill: SIGKILL the process. throw: an ordinary error. disconnect: an error shaped like a database
 * connection lost mid-statement (SQLSTATE 08006), the case where a COMMIT's outcome is unknown.
 */
export type FailpointAction = 'kill' | 'throw' | 'disconnect';

const NAMES: FailpointName[] = ['after-gateway-read', 'before-decision-commit', 'after-decision-commit', 'after-cancel-sent'];

export class FailpointError extends Error {
  constructor(readonly failpoint: FailpointName) {
    super(`failpoint ${failpoint} triggered`);
    this.name = 'FailpointError';
  }
}

export class Failpoints {
  private readonly active = new Map<FailpointName, FailpointAction>();

  constructor(spec: string | null = null) {
    for (const part of (spec ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
      const [name, action = 'kill'] = part.split('=');
      if (!NAMES.includes(name as FailpointName) || !['kill', 'throw', 'disconnect'].includes(action)) {
        throw new Error(`FAILPOINTS: unknown failpoint "${part}" (known: ${NAMES.join(', ')}; actions kill|throw|disconnect)`);
      }
      this.active.set(name as FailpointName, action as FailpointAction);
    }
  }

  enable(name: FailpointName, action: FailpointAction): void {
    this.active.set(name, action);
  }

  disable(name?: FailpointName): void {
    if (name) this.active.delete(name);
    else this.active.clear();
  }

  hit(name: FailpointName): void {
    const action = this.active.get(name);
    if (!action) return;
    if (action === 'kill') {
      process.stderr.write(`failpoint ${name}: killing the process\n`);
      process.kill(process.pid, 'SIGKILL');
    }
    if (action === 'disconnect') throw Object.assign(new Error(`failpoint ${name}: Connection terminated unexpectedly`), { code: '08006' });
    throw new FailpointError(name);
  }
}
