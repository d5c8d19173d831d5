/** Negative script results, in one place. */
export enum StoreErrorCode {
  UnknownKey = -1,
  OperatorDisabled = -2,
}

const MESSAGES: Record<StoreErrorCode, string> = {
  [StoreErrorCode.UnknownKey]: 'no such key in this pool',
  [StoreErrorCode.OperatorDisabled]: 'the key was disabled by an operator; only enable brings it back',
};

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    readonly pool: string,
    readonly keyId: string,
  ) {
    super(`${pool}/${keyId}: ${MESSAGES[code]}`);
    this.name = 'StoreError';
  }
}

export function storeError(code: number, pool: string, keyId: string): StoreError {
  if (!(code in MESSAGES)) throw new Error(`script returned unknown error code ${code}`);
  return new StoreError(code as StoreErrorCode, pool, keyId);
}
