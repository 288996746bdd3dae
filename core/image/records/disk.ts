/**
 * DISK: id u32 | uuid_length u32 | sectors u64 | uuid (UTF-8, uuid_length bytes). One per guest disk,
 * so a restore can prove the disks it reads MAP pages from are the ones the image was written against.
 */
import type { DiskIdentity } from '../../ports.ts';
import { DISK_UUID_MAX } from '../format.ts';
import { checkExactLength, checkMinLength, formatError, getU64, setU64, viewOf } from './check.ts';

const NAME = 'DISK';
const FIXED = 16;
const utf8 = new TextEncoder();
// fatal: a uuid that is not valid UTF-8 is corruption, not something to paper over with U+FFFD.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeDisk(d: DiskIdentity): Uint8Array {
  const uuid = utf8.encode(d.uuid);
  const body = new Uint8Array(FIXED + uuid.length);
  const view = viewOf(body);
  view.setUint32(0, d.id, true);
  view.setUint32(4, uuid.length, true);
  setU64(view, 8, d.sectors);
  body.set(uuid, FIXED);
  return body;
}

export function validateDisk(body: Uint8Array, at: number): void {
  checkMinLength(NAME, at, body.length, FIXED);
  const view = viewOf(body);
  const uuidLength = view.getUint32(4, true);
  if (uuidLength > DISK_UUID_MAX) {
    throw formatError(NAME, at, `DISK record uuid length ${uuidLength}, max ${DISK_UUID_MAX}`);
  }
  checkMinLength(NAME, at, body.length, FIXED + uuidLength, ` for a ${uuidLength}-byte uuid`);
  if (getU64(view, 8) < 0) throw formatError(NAME, at, `DISK record sector count exceeds 2^53`);
  try {
    strictUtf8.decode(body.subarray(FIXED, FIXED + uuidLength));
  } catch {
    throw formatError(NAME, at, `DISK record uuid is not valid UTF-8`);
  }
  checkExactLength(NAME, at, body.length, FIXED + uuidLength);
}

export function decodeDisk(body: Uint8Array): DiskIdentity {
  const view = viewOf(body);
  const uuidLength = view.getUint32(4, true);
  return {
    id: view.getUint32(0, true),
    sectors: getU64(view, 8),
    uuid: strictUtf8.decode(body.subarray(FIXED, FIXED + uuidLength)),
  };
}
