import { Entity, ManyToOne, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { Reservation } from '../../booking/reservation.entity';

/**
 * A virtual account PortOne issued for one of our reservations and that nobody has paid into yet. When
 * the hold ends unpaid, reconciliation revokes it so the buyer cannot deposit money for a seat that is
 * no longer theirs.
 */
@Entity({ tableName: 'virtual_account' })
export class VirtualAccount {
  @PrimaryKey({ type: 'text' })
  gatewayPaymentId: string;

  @ManyToOne(() => Reservation, { index: 'virtual_account_reservation_idx' })
  reservation: Reservation;

  @Property({ type: 'timestamptz' })
  issuedAt: Date;

  /** Set once PortOne revoked it, or once it turned out paid (then settlement owns it). */
  @Property({ type: 'timestamptz', nullable: true, index: 'virtual_account_open_idx' })
  closedAt: Opt<Date> | null = null;

  @Property({ type: 'text', nullable: true })
  closedBecause: Opt<string> | null = null;
}
