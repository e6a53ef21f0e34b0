import type { Logger } from 'pino';
import type { AppConfig } from '../../config';
import type { PaymentGateway } from '../payment-gateway';
import type { GatewayCallObserver } from '../../observability/app-metrics';
import { PortOneV1Client } from './v1/portone-v1.client';
import { PortOneV2Client } from './v2/portone-v2.client';

/** The PortOne adapter the configuration names (PORTONE_VERSION), behind the one PaymentGateway port. */
export function createPortOneGateway(
  portone: AppConfig['portone'],
  baseUrl: string,
  logger?: Logger,
  onCall?: GatewayCallObserver,
): PaymentGateway {
  const timeouts = { connectTimeoutMs: portone.connectTimeoutMs, responseTimeoutMs: portone.responseTimeoutMs, logger };
  return portone.version === 'v2'
    ? new PortOneV2Client({ baseUrl, apiSecret: portone.apiSecret, storeId: portone.storeId, ...timeouts, onCall })
    : new PortOneV1Client({ baseUrl, impKey: portone.impKey, impSecret: portone.impSecret, ...timeouts, onCall });
}
