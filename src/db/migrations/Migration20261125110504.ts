import { Migration } from '@mikro-orm/migrations';

export class Migration20261125110504 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "webhook_delivery" ("webhook_id" text not null, "event_type" text not null, "payment_id" text null, "received_at" timestamptz not null, constraint "webhook_delivery_pkey" primary key ("webhook_id"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "webhook_delivery" cascade;`);
  }

}
