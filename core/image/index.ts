/** Checkpoint image v1: write, restore and inspect. The byte layout is specified in docs/image-format.md. */
export { writeImage } from './writer.ts';
export { restoreImage } from './restore.ts';
export { inspectImage, listMapping } from './inspect.ts';
export { POLICIES } from './policy.ts';
export type {
  ImageInput,
  ImagePolicy,
  ImageStats,
  ImageSummary,
  RecordTotal,
  RestoreStats,
  RestoreTarget,
} from './types.ts';
export type { FormatVersion } from './file-header.ts';
export { FORMAT_VERSION, MAGIC, RecordType, recordTypeName } from './format.ts';
export { baselineImageBytes, imageBytes, type ImageShape } from './size.ts';
