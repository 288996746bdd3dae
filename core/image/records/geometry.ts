/**
 * GEOMETRY: page_size u32 | sector_size u32 | page_count u64. First record of every image; the sizes
 * are stored, not assumed, so an image from a build with other sizes is rejected rather than misread.
 */
import { PAGE_SIZE, SECTOR_SIZE } from '../../ports.ts';
import { PAGE_COUNT_MAX } from '../format.ts';
import { checkExactLength, checkMinLength, formatError, getU64, setU64, viewOf } from './check.ts';

const NAME = 'GEOMETRY';
export const GEOMETRY_LENGTH = 16;

export interface Geometry {
  readonly pageSize: number;
  readonly sectorSize: number;
  readonly pageCount: number;
}

export function encodeGeometry(g: Geometry): Uint8Array {
  const body = new Uint8Array(GEOMETRY_LENGTH);
  const view = viewOf(body);
  view.setUint32(0, g.pageSize, true);
  view.setUint32(4, g.sectorSize, true);
  setU64(view, 8, g.pageCount);
  return body;
}

export function validateGeometry(body: Uint8Array, at: number): void {
  checkMinLength(NAME, at, body.length, GEOMETRY_LENGTH);
  const g = decodeGeometry(body);
  if (g.pageSize !== PAGE_SIZE) {
    throw formatError(NAME, at, `GEOMETRY page size ${g.pageSize} is not supported, expected ${PAGE_SIZE}`);
  }
  if (g.sectorSize !== SECTOR_SIZE) {
    throw formatError(
      NAME,
      at,
      `GEOMETRY sector size ${g.sectorSize} is not supported, expected ${SECTOR_SIZE}`,
    );
  }
  if (g.pageCount < 0 || g.pageCount > PAGE_COUNT_MAX) {
    throw formatError(NAME, at, `GEOMETRY page count too large, max ${PAGE_COUNT_MAX}`);
  }
  checkExactLength(NAME, at, body.length, GEOMETRY_LENGTH);
}

export function decodeGeometry(body: Uint8Array): Geometry {
  const view = viewOf(body);
  return {
    pageSize: view.getUint32(0, true),
    sectorSize: view.getUint32(4, true),
    pageCount: getU64(view, 8),
  };
}
