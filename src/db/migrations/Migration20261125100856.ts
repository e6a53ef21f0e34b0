import { Migration } from '@mikro-orm/migrations';

export class Migration20261125100856 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "sweep_cursor" ("listing" text not null, "swept_until" timestamptz not null, "updated_at" timestamptz not null, constraint "sweep_cursor_pkey" primary key ("listing"));`);

    this.addSql(`create table "virtual_account" ("gateway_payment_id" text not null, "reservation_id" uuid not null, "issued_at" timestamptz not null, "closed_at" timestamptz null, "closed_because" text null, constraint "virtual_account_pkey" primary key ("gateway_payment_id"));`);
    this.addSql(`create index "virtual_account_reservation_idx" on "virtual_account" ("reservation_id");`);
    this.addSql(`create index "virtual_account_open_idx" on "virtual_account" ("closed_at");`);

    this.addSql(`alter table "virtual_account" add constraint "virtual_account_reservation_id_foreign" foreign key ("reservation_id") references "reservation" ("id") on update cascade;`);

    this.addSql(`alter table "reservation" add column "report_checks" int not null default 0;`);
    // reconciled_at meant "last looked at"; report_check_at means "look again then": not the same data.
    this.addSql(`alter table "reservation" drop column "reconciled_at";`);
    this.addSql(`alter table "reservation" add column "report_check_at" timestamptz null;`);
    this.addSql(`create index "reservation_report_check_idx" on "reservation" ("report_check_at");`);

    this.addSql(`alter type "refund_reason" add value if not exists 'CANCELLED_AT_GATEWAY' after 'BUYER_CANCELLED';`);

    this.addSql(`alter table "refund" drop constraint refund_amount_positive;`);
    this.addSql(`alter table "refund" drop column "attempt_budget";`);

    this.addSql(`alter table "refund" add column "currency" text not null default 'KRW', add column "give_up_at" timestamptz not null default (now() + interval '72 hours'), add column "refund_account" jsonb null;`);
    this.addSql(`alter table "refund" alter column "give_up_at" drop default;`);
    this.addSql(`alter table "refund" alter column "amount" type numeric(20,4) using ("amount"::numeric(20,4));`);
    this.addSql(`alter table "refund" add constraint refund_amount_not_negative check(amount >= 0);`);

    this.addSql(`alter table "payment" alter column "amount" type numeric(20,4) using ("amount"::numeric(20,4));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sweep_cursor" cascade;`);

    this.addSql(`drop table if exists "virtual_account" cascade;`);

    this.addSql(`alter table "payment" alter column "amount" type int4 using ("amount"::int4);`);

    this.addSql(`alter table "refund" drop constraint refund_amount_not_negative;`);
    this.addSql(`alter table "refund" drop column "currency", drop column "give_up_at", drop column "refund_account";`);

    this.addSql(`alter table "refund" add column "attempt_budget" int4 not null default 8;`);
    this.addSql(`alter table "refund" alter column "amount" type int4 using ("amount"::int4);`);
    this.addSql(`alter table "refund" add constraint refund_amount_positive check(amount > 0);`);

    this.addSql(`drop index "reservation_report_check_idx";`);
    this.addSql(`alter table "reservation" drop column "report_checks";`);

    this.addSql(`alter table "reservation" drop column "report_check_at";`);
    this.addSql(`alter table "reservation" add column "reconciled_at" timestamptz null;`);
  }

}
