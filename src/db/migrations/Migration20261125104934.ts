import { Migration } from '@mikro-orm/migrations';

export class Migration20261125104934 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "event_starts_at_id_idx" on "event" ("starts_at", "id");`);

    // Natural order of seat labels (R2 before R10): ICU root collation with numeric ordering.
    this.addSql(`create collation if not exists "natural_sort" (provider = icu, locale = 'und-u-kn-true');`);
    this.addSql(`create index "seat_event_natural_label_idx" on "seat" ("event_id", "label" collate "natural_sort", "id");`);

    this.addSql(`create index "refund_created_at_id_idx" on "refund" ("created_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "event_starts_at_id_idx";`);

    this.addSql(`drop index "refund_created_at_id_idx";`);

    this.addSql(`drop index "seat_event_natural_label_idx";`);
  }

}
