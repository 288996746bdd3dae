/**
 * STATE: the backend's device and vCPU state, opaque bytes. The image only carries it; its checksum is
 * the record's, its meaning the backend's.
 */
import { REC_LENGTH_MAX } from '../format.ts';
import { formatError } from './check.ts';

const NAME = 'STATE';

export function encodeState(state: Uint8Array): Uint8Array {
  return state;
}

export function validateState(body: Uint8Array, at: number): void {
  // The framing already bounds every record; repeated so this validator stands on its own.
  if (body.length > REC_LENGTH_MAX) {
    throw formatError(NAME, at, `STATE record length ${body.length}, max ${REC_LENGTH_MAX}`);
  }
}

/** Copies: the body is a view into a reader's buffer that is reused for the next record. */
export function decodeState(body: Uint8Array): Uint8Array {
  return body.slice();
}
