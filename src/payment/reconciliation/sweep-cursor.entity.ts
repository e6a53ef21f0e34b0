import { Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * How far the reconciliation sweep has read PortOne's payment listing of one status. A run reads from
 * here (minus an overlap) to now and moves it forward only after every payment in the window was
 * settled or queued, so a crash resumes where the last finished window ended.
 */
@Entity({ tableName: 'sweep_cursor' })
export class SweepCursor {
  /** The listing swept: `paid`, `cancelled` or `ready`. */
  @PrimaryKey({ type: 'text' })
  listing: string;

  @Property({ type: 'timestamptz' })
  sweptUntil: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Opt<Date> = new Date();
}
