/** How reconciliation runs (from configuration), and what one run reports (logged, and graphed by app-metrics). */
export interface ReconciliationPolicy {
  intervalMs: number;
  /** How long after a hold ends before it is expired (a payment made just before may still be settling). */
  graceMs: number;
  /** Each run re-reads this much before the stored cursor: PortOne's clock and ours differ, and listings lag. */
  sweepOverlapMs: number;
  /** Where the very first sweep starts, before the oldest reservation. */
  sweepLookbackMs: number;
  sweepPageSize: number;
  /** PortOne listing calls per listing per run; the cursor only moves past a window read to its end. */
  sweepMaxPagesPerRun: number;
  /** A reported reservation is read again after this, doubling up to the max, until `reportGiveUpMs` after the report. */
  reportBackoffBaseMs: number;
  reportBackoffMaxMs: number;
  reportGiveUpMs: number;
  batchSize: number;
  /** A job locked longer than this belongs to a process that died (ours finish in well under it). */
  staleJobLockMs: number;
}

export interface ReconciliationReport {
  listed: number;
  settled: number;
  reportedChecked: number;
  expired: number;
  virtualAccountsRevoked: number;
  refundsRequeued: number;
  jobsUnlocked: number;
  errors: number;
}
