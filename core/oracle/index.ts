/** Exhaustive content matching: the upper bound of what a disk-based checkpoint can leave out. */
export {
  matchPagesToDisks,
  PAGE_MATCHED,
  PAGE_OTHER,
  PAGE_ZERO,
  type DiskKeys,
  type OracleInput,
  type OracleResult,
} from './matcher.ts';
export { blockStoreKeys, matchBytes, memoryKeys } from './byte-keys.ts';
