import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormatError } from '../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../core/hash.ts';
import { REC_LENGTH_MAX, RecordType } from '../../core/image/format.ts';
import { inspectImage, POLICIES, restoreImage, writeImage } from '../../core/image/index.ts';
import {
  inputOf,
  joinImage,
  makeGuest,
  splitImage,
  targetOf,
  tempDir,
  type Guest,
  type ImageRecord,
} from '../support/image-fakes.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let guest: Guest;
let image: Uint8Array;
let records: ImageRecord[];
beforeAll(async () => {
  hasher = await loadHasher();
  tmp = await tempDir('leanckpt-corrupt-');
  guest = makeGuest({
    pages: 8,
    diskSectors: [64],
    mapped: [{ pfn: 1, disk: 0, sector: 8 }],
    zeroPages: [3, 4],
  });
  await writeImage(tmp.path('good.img'), inputOf(guest, hasher), POLICIES['p2b+zero']);
  image = new Uint8Array(await readFile(tmp.path('good.img'))); // a copy: Buffer.slice would share
  records = splitImage(image);
});
afterAll(() => tmp.cleanup());

function find(type: number): ImageRecord {
  const r = records.find((x) => x.type === type);
  if (r === undefined) throw new Error(`no record of type ${type}`);
  return r;
}

async function restoreBytes(bytes: Uint8Array) {
  const path = tmp.path('bad.img');
  await writeFile(path, bytes);
  const target = targetOf(guest, hasher);
  const result = await restoreImage(path, target).then(
    (stats) => ({ stats, error: undefined }),
    (error: unknown) => ({ stats: undefined, error }),
  );
  return { ...result, target, path };
}

async function rejected(bytes: Uint8Array, record: string, message: RegExp, offset?: number) {
  const { error } = await restoreBytes(bytes);
  expect(error).toBeInstanceOf(ImageFormatError);
  expect(error).toMatchObject({ record });
  if (offset !== undefined) expect((error as ImageFormatError).offset).toBe(offset);
  expect((error as Error).message).toMatch(message);
  return error as ImageFormatError;
}

describe('record corruption', () => {
  it('rejects a flipped byte in a page, naming PAGE_DATA and its offset', async () => {
    const pd = find(RecordType.PAGE_DATA);
    const bytes = image.slice();
    bytes[pd.at! + 200]! ^= 0x01;
    await rejected(
      bytes,
      'PAGE_DATA',
      new RegExp(
        `^PAGE_DATA record checksum mismatch \\(stored 0x[0-9a-f]{16}, computed 0x[0-9a-f]{16}\\) \\(record at offset ${pd.at}\\)$`,
      ),
      pd.at,
    );
  });

  it('rejects a flipped byte in the checksum itself', async () => {
    const bytes = image.slice();
    const end = find(RecordType.END);
    bytes[bytes.length - 1]! ^= 0x80;
    await rejected(bytes, 'END', /^END record checksum mismatch/, end.at);
  });

  it('rejects a flipped bit in a padding byte', async () => {
    const disk = find(RecordType.DISK); // a 29-byte body: 3 bytes of padding
    const bytes = image.slice();
    bytes[disk.at! + 8 + 30]! ^= 0x01;
    await rejected(bytes, 'DISK', /checksum mismatch/, disk.at);
  });

  it('rejects a record cut short, naming it and what it needed', async () => {
    const pd = find(RecordType.PAGE_DATA);
    await rejected(
      image.slice(0, pd.at! + 1000),
      'PAGE_DATA',
      /^PAGE_DATA record truncated: needs \d+ bytes, the file has 1000 left \(record at offset \d+\)$/,
      pd.at,
    );
  });

  it('rejects a file cut between records: no END', async () => {
    const end = find(RecordType.END);
    await rejected(image.slice(0, end.at), 'END', /^Image truncated: no END record/, end.at);
  });

  it('rejects a file cut inside a record header', async () => {
    const end = find(RecordType.END);
    await rejected(image.slice(0, end.at! + 6), 'END', /^END record truncated: 6 bytes left/, end.at);
    await rejected(
      image.slice(0, end.at! + 2),
      'record',
      /^Record truncated: 2 bytes left, a record takes at least 16/,
      end.at,
    );
  });

  it('rejects a length beyond REC_LENGTH_MAX before reading or allocating the body', async () => {
    const state = find(RecordType.STATE);
    const bytes = image.slice();
    new DataView(bytes.buffer).setUint32(state.at! + 4, REC_LENGTH_MAX + 1, true);
    await rejected(bytes, 'STATE', /^STATE record length 67108865 exceeds the maximum 67108864/, state.at);
  });

  it('rejects an unknown mandatory record before loading any page', async () => {
    const at = records.indexOf(find(RecordType.STATE)) + 1;
    const withUnknown = [
      ...records.slice(0, at),
      { type: 0x99, body: Uint8Array.of(1, 2, 3) },
      ...records.slice(at),
    ];
    const { error, target } = await restoreBytes(joinImage(hasher, withUnknown));
    expect(error).toBeInstanceOf(ImageFormatError);
    expect((error as Error).message).toMatch(/^Unknown mandatory record type UNKNOWN\(0x00000099\)/);
    expect(target.memory.bytes.every((b) => b === 0xaa)).toBe(true);
  });

  it('skips unknown optional records wherever they appear, and inspect lists them', async () => {
    const optional = { type: RecordType.OPTIONAL | 0x99, body: new Uint8Array(13).fill(7) };
    const withOptional = records.flatMap((r) => (r.type === RecordType.END ? [optional, r] : [r, optional]));
    const { error, target, path } = await restoreBytes(joinImage(hasher, withOptional));
    expect(error).toBeUndefined();
    expect(Buffer.compare(target.memory.bytes, guest.memory.bytes)).toBe(0);
    const summary = await inspectImage(path);
    expect(summary.records['UNKNOWN(0x80000099, optional)']).toEqual({
      count: records.length,
      bytes: records.length * 32,
    });
  });

  it('rejects data after END', async () => {
    const bytes = new Uint8Array(image.length + 16);
    bytes.set(image);
    await rejected(bytes, 'END', /^Unexpected data after END: 16 bytes/, image.length);
  });

  it('rejects a record whose content is invalid even with a valid checksum', async () => {
    const body = find(RecordType.PAGE_DATA).body.slice();
    new DataView(body.buffer).setUint32(8, 8, true); // first pfn = 8, beyond the 8-page guest
    const bad = records.map((r) => (r.type === RecordType.PAGE_DATA ? { type: r.type, body } : r));
    await rejected(joinImage(hasher, bad), 'PAGE_DATA', /^PAGE_DATA entry 0: pfn 8 beyond page count 8/);
  });
});
