import { Migration } from '@mikro-orm/migrations';

export class Migration20261124150606 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "reservation" add column "payment_reported_at" timestamptz null, add column "reconciled_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "reservation" drop column "payment_reported_at", drop column "reconciled_at";`);
  }

}
