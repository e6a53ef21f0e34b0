// What the server tells the reference checkout (web/demo) in its page; types only, shared by both sides.

/**
 * Which "PortOne window" the checkout opens: the simulator's page, or PortOne's own SDK (V1 `IMP.request_pay`
 * loaded from PORTONE_V1_SDK_URL; V2 `@portone/browser-sdk`, which loads PortOne's script itself). Public
 * values only: the page shows them to anyone.
 */
export type CheckoutPaymentWindow =
  /** The simulator's window answers like the SDK of `version`: V1's request_pay callback or V2's requestPayment result. */
  | { kind: 'simulator'; version: 'v1' | 'v2'; windowUrl: string; noticeUrl: string | null }
  | { kind: 'portone-v1'; sdkUrl: string; impCode: string | null; channelKey: string | null }
  | { kind: 'portone-v2'; storeId: string; channelKey: string | null }
  | { kind: 'unavailable'; reason: string };

/** What the page is told in its JSON settings block. */
export interface CheckoutSettings {
  /** The GraphQL endpoint: `/graphql` here, an absolute URL when the checkout is hosted on another origin. */
  endpoint: string;
  /** Development only: the demo buyer's token, so the page works without pasting one. */
  token: string | null;
  payment: CheckoutPaymentWindow;
}
