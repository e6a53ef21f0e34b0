import { Migration } from '@mikro-orm/migrations';

export class Migration20261124150741 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "partner" ("id" uuid not null, "name" text not null, "api_key_hash" text not null, "api_key_prefix" text not null, "revoked_at" timestamptz null, "created_at" timestamptz not null, constraint "partner_pkey" primary key ("id"));`);
    this.addSql(`alter table "partner" add constraint "partner_api_key_hash_unique" unique ("api_key_hash");`);

    this.addSql(`create table "partner_event" ("partner_id" uuid not null, "event_id" uuid not null, constraint "partner_event_pkey" primary key ("partner_id", "event_id"));`);

    this.addSql(`alter table "partner_event" add constraint "partner_event_partner_id_foreign" foreign key ("partner_id") references "partner" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "partner_event" add constraint "partner_event_event_id_foreign" foreign key ("event_id") references "event" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "partner_event" drop constraint "partner_event_partner_id_foreign";`);

    this.addSql(`drop table if exists "partner" cascade;`);

    this.addSql(`drop table if exists "partner_event" cascade;`);
  }

}
