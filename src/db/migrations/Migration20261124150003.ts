import { Migration } from '@mikro-orm/migrations';

export class Migration20261124150003 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create type "refund_reason" as enum ('AMOUNT_MISMATCH', 'MERCHANT_UID_MISMATCH', 'CURRENCY_MISMATCH', 'SEAT_UNAVAILABLE', 'RESERVATION_CANCELLED', 'DUPLICATE_PAYMENT', 'INTERNAL_ERROR', 'BUYER_CANCELLED');`);
    this.addSql(`create type "refund_status" as enum ('PENDING', 'SUCCEEDED', 'NEEDS_ATTENTION');`);
    this.addSql(`create type "payment_decision" as enum ('CONFIRMED', 'REFUND');`);
    this.addSql(`create table "payment_event" ("id" bigserial primary key, "at" timestamptz not null, "reservation_id" uuid null, "gateway_payment_id" text null, "refund_id" uuid null, "kind" text not null, "outcome" text not null, "message" text null, "details" jsonb null);`);
    this.addSql(`create index "payment_event_gateway_payment_idx" on "payment_event" ("gateway_payment_id", "id");`);
    this.addSql(`create index "payment_event_reservation_idx" on "payment_event" ("reservation_id", "id");`);

    this.addSql(`create table "refund" ("id" uuid not null, "gateway_payment_id" text not null, "reservation_id" uuid not null, "amount" int not null, "reason" "refund_reason" not null, "status" "refund_status" not null default 'PENDING', "attempts" int not null default 0, "attempt_budget" int not null, "attempt_lease_until" timestamptz null, "next_attempt_at" timestamptz null, "last_error" text null, "gateway_cancellation_id" text null, "succeeded_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "refund_pkey" primary key ("id"), constraint refund_amount_positive check (amount > 0));`);
    this.addSql(`alter table "refund" add constraint "refund_gateway_payment_id_unique" unique ("gateway_payment_id");`);
    this.addSql(`create index "refund_reservation_idx" on "refund" ("reservation_id");`);
    this.addSql(`create index "refund_status_idx" on "refund" ("status", "created_at");`);

    this.addSql(`create table "payment" ("id" uuid not null, "gateway_payment_id" text not null, "reservation_id" uuid not null, "merchant_uid" text not null, "amount" int not null, "currency" text not null, "decision" "payment_decision" not null, "refund_reason" "refund_reason" null, "decided_by" text not null, "decided_at" timestamptz not null, constraint "payment_pkey" primary key ("id"));`);
    this.addSql(`alter table "payment" add constraint "payment_gateway_payment_id_unique" unique ("gateway_payment_id");`);
    this.addSql(`create index "payment_reservation_idx" on "payment" ("reservation_id");`);
    this.addSql(`create unique index "payment_confirmed_per_reservation_unique" on "payment" ("reservation_id") where "decision" = 'CONFIRMED';`);

    this.addSql(`alter table "refund" add constraint "refund_reservation_id_foreign" foreign key ("reservation_id") references "reservation" ("id") on update cascade;`);

    this.addSql(`alter table "payment" add constraint "payment_reservation_id_foreign" foreign key ("reservation_id") references "reservation" ("id") on update cascade;`);
    // The payment event log is append-only: PostgreSQL itself refuses to change or remove an entry.
    this.addSql(`create function payment_event_append_only() returns trigger language plpgsql as $$
      begin raise exception 'payment_event is append-only'; end $$;`);
    this.addSql(`create trigger payment_event_append_only before update or delete on "payment_event"
      for each row execute function payment_event_append_only();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists payment_event_append_only on "payment_event";`);
    this.addSql(`drop function if exists payment_event_append_only();`);
    this.addSql(`drop table if exists "payment_event" cascade;`);

    this.addSql(`drop table if exists "refund" cascade;`);

    this.addSql(`drop table if exists "payment" cascade;`);

    this.addSql(`drop type "refund_reason";`);
    this.addSql(`drop type "refund_status";`);
    this.addSql(`drop type "payment_decision";`);
  }

}
