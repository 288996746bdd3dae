/**
 * Each invalidation rule's code, and the edit that deletes it. `check-rules.ts` applies them one at a
 * time to a scratch copy and expects the test suite to fail: a rule no test notices is not proven.
 */
export interface RuleMutation {
  readonly rule: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

export const RULE_MUTATIONS: readonly RuleMutation[] = [
  {
    rule: '1: a completed full-page read maps the page',
    file: 'core/tracker/tracker.ts',
    find: 'this.map.map(pfn, g, this.claimHash(pfn, g));\n        this.stats.mappedByRead++;',
    replace: 'this.stats.mappedByRead++;',
  },
  {
    rule: '2: a completed full-page write maps its source page',
    file: 'core/tracker/tracker.ts',
    find: 'this.map.map(pfn, g, this.claimHash(pfn, g));\n          this.stats.mappedByWrite++;',
    replace: 'this.stats.mappedByWrite++;',
  },
  {
    rule: '2/3: a completed write kills mappings overlapping its sectors',
    file: 'core/tracker/tracker.ts',
    find: 'this.stats.killedByDiskChange += this.map.unmapOverlapping(start, this.inflight.end(slot));\n    if (this.inflight.dir(slot) === IoDir.Discard) return;',
    replace:
      'if (this.inflight.dir(slot) === IoDir.Discard) {\n      this.map.unmapOverlapping(start, this.inflight.end(slot));\n      return;\n    }',
  },
  {
    rule: '3: a completed discard kills mappings overlapping its sectors',
    file: 'core/tracker/tracker.ts',
    find: 'this.stats.killedByDiskChange += this.map.unmapOverlapping(start, this.inflight.end(slot));\n    if (this.inflight.dir(slot) === IoDir.Discard) return;',
    replace:
      'if (this.inflight.dir(slot) === IoDir.Discard) return;\n    this.map.unmapOverlapping(start, this.inflight.end(slot));',
  },
  {
    rule: '3: overlap includes unaligned mappings starting up to 7 sectors earlier',
    file: 'core/pbmap/page-block-map.ts',
    find: 'const firstSlot = Math.floor((start - (SPP - 1)) / SPP);',
    replace: 'const firstSlot = Math.floor(start / SPP);',
  },
  {
    rule: '4: a sub-page read kills the page mapping',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.map.isMapped(pfn)) this.stats.killedByPartialRead++;\n        this.map.unmap(pfn);',
    replace: 'if (this.map.isMapped(pfn)) this.stats.killedByPartialRead++;',
  },
  {
    rule: '5: a memory write kills the page mapping',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.map.isMapped(pfn)) this.stats.killedByMemWrite++;\n    this.map.unmap(pfn);',
    replace: 'if (this.map.isMapped(pfn)) this.stats.killedByMemWrite++;',
  },
  {
    rule: '5: a page release kills the page mapping',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.map.isMapped(pfn)) this.stats.killedByRelease++;\n    this.map.unmap(pfn);',
    replace: 'if (this.map.isMapped(pfn)) this.stats.killedByRelease++;',
  },
  {
    rule: '6: a page written during its request is not mapped by the completion',
    file: 'core/tracker/inflight.ts',
    find: 'return w !== undefined && w > this.seqs[slot]!;',
    replace: 'return w !== undefined && false;',
  },
  {
    rule: '7: requests overlapping on disk, one changing it, race',
    file: 'core/tracker/inflight.ts',
    find: 'if (changesDisk && this.starts[a]! < this.ends[b]! && this.starts[b]! < this.ends[a]!) return true;',
    replace: 'if (changesDisk && this.starts[a]! < this.ends[b]! && false) return true;',
  },
  {
    rule: '7: requests sharing a page, one reading into it, race',
    file: 'core/tracker/inflight.ts',
    find: 'return this.sharePage(a, b);',
    replace: 'return false;',
  },
  {
    rule: '7: a racing request maps nothing',
    file: 'core/tracker/tracker.ts',
    find: '} else if (this.inflight.conflicted(slot)) {',
    replace: '} else if (this.inflight.conflicted(slot) && false) {',
  },
  {
    rule: '8: a failed request maps nothing and kills what it touched',
    file: 'core/tracker/tracker.ts',
    find: 'if (!ok) {',
    replace: 'if (!ok && false) {',
  },
  {
    rule: '9: in-flight I/O at a checkpoint keeps its pages and sectors out of the image',
    file: 'core/tracker/tracker.ts',
    find: 'if (g < 0 || excluded.has(pfn)) continue;',
    replace: 'if (g < 0) continue;',
  },
  {
    rule: '10: several pages may map to the same sectors',
    file: 'core/pbmap/page-block-map.ts',
    find: 'this.next[pfn] = head;\n    if (head !== NONE) this.prev[head] = pfn;',
    replace: 'this.next[pfn] = NONE;',
  },
  {
    rule: '10: disks have independent sector spaces',
    file: 'core/pbmap/disk-space.ts',
    find: 'this.bases.push(base);',
    replace: 'this.bases.push(0);',
  },
  {
    rule: 'epoch: a dirty page loses its mapping',
    file: 'core/tracker/tracker.ts',
    find: 'this.stats.killedByDirty++;\n    this.map.unmap(pfn);',
    replace: 'this.stats.killedByDirty++;',
  },
  {
    rule: 'revalidation: a mapping claims the hash of the disk, not of the page',
    file: 'core/tracker/tracker.ts',
    find: 'return this.probe.hashSectors(disk, sector);',
    replace: 'return disk + sector >= 0 ? this.probe.hashPage(pfn) : 0n;',
  },
  {
    rule: '6 + revalidation: a tainted read segment is mapped only if its page hashes like its sectors',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.probe!.hashPage(pfn) === claim) this.stats.taintedKeptByRevalidation++;\n    else this.map.unmap(pfn);',
    replace: 'this.stats.taintedKeptByRevalidation++;',
  },
  {
    rule: 'adoption: refused while requests are in flight',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.inflight.size > 0) {',
    replace: 'if (this.inflight.size > 0 && false) {',
  },
  {
    rule: 'adoption: with revalidation, a page not holding what it claims is not adopted',
    file: 'core/tracker/tracker.ts',
    find: 'if (this.probe && this.probe.hashPage(pfn) !== claim) {',
    replace: 'if (false) {',
  },
  {
    rule: 'epoch: the last epoch is flushed before the checkpoint',
    file: 'core/tracker/operators/deliver-in-epochs.ts',
    find: 'if (op === Op.Checkpoint) flush();',
    replace: '',
  },
  {
    rule: 'epoch: DMA into a page dirties it',
    file: 'core/tracker/operators/deliver-in-epochs.ts',
    find: 'if (pages) for (const pfn of pages) markDirty(pfn);',
    replace: '',
  },
];
