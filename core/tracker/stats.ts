/** What the tracker did, per rule: the numbers an experiment explains its results with. */
export interface TrackerStats {
  events: number;
  /** Rule 1 / rule 2: pages mapped by a completed full-page read / write. */
  mappedByRead: number;
  mappedByWrite: number;
  /** Rules 2, 3: mappings killed because their sectors were overwritten or discarded. */
  killedByDiskChange: number;
  /** Rule 4: mappings killed by a sub-page read into the page. */
  killedByPartialRead: number;
  /** Rule 5: mappings killed by a memory write, a page release, or an epoch's dirty report. */
  killedByMemWrite: number;
  killedByRelease: number;
  killedByDirty: number;
  /** Hash revalidation: dirty-reported pages kept because their content still matched. */
  keptByRevalidation: number;
  /** Rule 6: completions whose page the guest wrote while the request was in flight. */
  taintedSegments: number;
  /**
   * Rule 6 with hash revalidation: tainted full-page read segments mapped all the same, because the
   * page hashed like its sectors at the completion (counted in taintedSegments too).
   */
  taintedKeptByRevalidation: number;
  /** Rule 7: completions of requests that raced with another in-flight request. */
  conflictedRequests: number;
  /** Rule 8: failed completions. */
  failedRequests: number;
  /** Rule 9: mappings left out of a checkpoint because in-flight I/O made them undefined. */
  excludedAtCheckpoint: number;
  /** Mappings taken over at a quiet point (adoptVerifiedMappings, e.g. after a restore). */
  adopted: number;
  /** Offered mappings not adopted: the page did not hash like the content it claims. */
  adoptionRejected: number;
}

export function emptyStats(): TrackerStats {
  return {
    events: 0,
    mappedByRead: 0,
    mappedByWrite: 0,
    killedByDiskChange: 0,
    killedByPartialRead: 0,
    killedByMemWrite: 0,
    killedByRelease: 0,
    killedByDirty: 0,
    keptByRevalidation: 0,
    taintedSegments: 0,
    taintedKeptByRevalidation: 0,
    conflictedRequests: 0,
    failedRequests: 0,
    excludedAtCheckpoint: 0,
    adopted: 0,
    adoptionRejected: 0,
  };
}
