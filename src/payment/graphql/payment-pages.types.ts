import { createPageType } from '../../graphql/pagination';
import { PaymentEventView, RefundView } from './payment.types';

export const RefundPage = createPageType('RefundPage', RefundView, 'A page of refunds, newest first.');
export const PaymentEventPage = createPageType('PaymentEventPage', PaymentEventView, 'A page of payment events, oldest first.');
