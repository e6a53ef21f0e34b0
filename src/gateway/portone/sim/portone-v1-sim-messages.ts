/** The V1 simulator's error messages; `PortOneSimulatorOptions.messages` overrides any of them. */
export const DEFAULT_MESSAGES = {
  cancelNotFound: '취소할 결제건이 존재하지 않습니다.',
  alreadyCancelled: '이미 전액취소된 주문입니다.',
  notFound: '존재하지 않는 결제정보입니다.',
  unauthorized: 'Unauthorized',
  // The rest are UNCONFIRMED at PortOne; configurable.
  missingIds: 'imp_uid 또는 merchant_uid 중 하나는 필수입니다.',
  notPaid: '결제완료 상태의 결제건만 취소할 수 있습니다.',
  checksumMismatch: '[checksum] 취소 가능 잔액이 요청한 checksum 과 일치하지 않습니다.',
  amountTooLarge: '결제취소에 실패하였습니다.(requested cancel amount is bigger than cancelable amount)',
  vbankRefundAccount: '가상계좌 취소는 계좌번호, 예금주, 은행명을 입력해야 합니다.',
  prepareNotFound: '사전등록된 결제정보가 존재하지 않습니다.',
  prepareExists: '이미 사전등록된 merchant_uid 입니다.',
  invalidPaymentStatus: 'payment_status 값이 올바르지 않습니다.',
  pageOutOfRange: '데이터 범위를 넘어선 page 입니다.',
  invalidListQuery: '검색 조건이 올바르지 않습니다.',
  notVbank: '가상계좌 결제건이 아닙니다.',
  vbankNotReady: '입금대기(ready) 상태의 가상계좌가 아닙니다.',
};

export type V1SimMessages = typeof DEFAULT_MESSAGES;
