import { Migration } from '@mikro-orm/migrations';

export class Migration20261124145308 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create type "reservation_status" as enum ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED');`);
    this.addSql(`create table "event" ("id" uuid not null, "title" text not null, "starts_at" timestamptz not null, "created_at" timestamptz not null, constraint "event_pkey" primary key ("id"));`);

    this.addSql(`create table "seat" ("id" uuid not null, "event_id" uuid not null, "label" text not null, "price" int not null, constraint "seat_pkey" primary key ("id"), constraint seat_price_positive check (price > 0));`);
    this.addSql(`alter table "seat" add constraint "seat_event_label_unique" unique ("event_id", "label");`);

    this.addSql(`create table "reservation" ("id" uuid not null, "seat_id" uuid not null, "buyer_id" text not null, "status" "reservation_status" not null default 'HELD', "amount" int not null, "merchant_uid" text not null, "expires_at" timestamptz not null, "confirmed_at" timestamptz null, "cancelled_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "version" int not null default 1, constraint "reservation_pkey" primary key ("id"), constraint reservation_amount_positive check (amount > 0));`);
    this.addSql(`alter table "reservation" add constraint "reservation_merchant_uid_unique" unique ("merchant_uid");`);
    this.addSql(`create index "reservation_status_expires_idx" on "reservation" ("status", "expires_at");`);
    this.addSql(`create index "reservation_buyer_idx" on "reservation" ("buyer_id", "created_at");`);
    this.addSql(`create unique index "reservation_seat_active_unique" on "reservation" ("seat_id") where "status" in ('HELD', 'CONFIRMED');`);

    this.addSql(`alter table "seat" add constraint "seat_event_id_foreign" foreign key ("event_id") references "event" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "reservation" add constraint "reservation_seat_id_foreign" foreign key ("seat_id") references "seat" ("id") on update cascade;`);
  }

}
