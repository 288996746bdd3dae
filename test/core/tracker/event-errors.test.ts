import { describe, expect, it } from 'vitest';
import { EventError } from '../../../core/errors.ts';
import { FULL, done, memWrite, read, track, write } from '../../support/tracker-helpers.ts';

describe('events the event model forbids are refused with a clear EventError', () => {
  const cases: [string, Parameters<typeof track>[0], RegExp][] = [
    ['completion of an unknown request', [done(5)], /request 5, which is not in flight/],
    [
      'a request id reused while in flight',
      [read(1, 0, 0, [FULL(1)]), read(1, 0, 8, [FULL(2)])],
      /already in flight/,
    ],
    ['a page beyond the guest', [read(1, 0, 0, [FULL(16)])], /page 16 outside/],
    ['a memory write beyond the guest', [memWrite(99)], /page 99 outside/],
    ['a segment with first > last', [read(1, 0, 0, [[1, 5, 2]])], /segment 0 has sectors 5..2/],
    ['a segment past sector 7', [write(1, 0, 0, [[1, 0, 8]])], /segment 0 has sectors 0..8/],
    [
      'a request past the end of the disk',
      [read(1, 0, 250, [FULL(1)])],
      /disk 0: sectors 250..257 outside 0..255/,
    ],
    ['an unknown disk', [read(1, 7, 0, [FULL(1)])], /unknown disk 7/],
    ['a read with no segments', [read(1, 0, 0, [])], /no segments/],
  ];
  for (const [what, events, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(() => track(events)).toThrow(EventError);
      expect(() => track(events)).toThrow(message);
    });
  }
});
