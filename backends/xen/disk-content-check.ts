/**
 * A restore's proof that each disk holds the whole content the image was saved with (the guest's file
 * systems expect it, not only the sectors its left-out pages came from). Two ways:
 *  - identity: the file is the one the save recorded, unwritten since (content/file-identity.ts), so it
 *    is not read at all; the chunks' hashes the image recorded go to the new tracking;
 *  - content: the whole file is read and hashed, and the hash compared with the recorded one.
 * With `check: 'identity'` (the default) a disk is proven by identity where the image recorded one and
 * the file still has it, else by content; `check: 'content'` always reads. A disk proven by identity is
 * stat'ed again just before the domain runs, and read after all if it changed in between.
 */
import { RestoreError } from '../../core/errors.ts';
import type { Hasher64 } from '../../core/hash.ts';
import {
  CONTENT_CHUNK_SECTORS,
  contentIdentity,
  type ChunkList,
  type ContentHash,
} from './content/chunk-hashes.ts';
import { fileIdentity, sameIdentity, type FileIdentity } from './content/file-identity.ts';
import { hashFileChunks, hashFileContent, type DiskFile } from './disk-files.ts';
import type { RecordedContent, XenDisk } from './image/format.ts';

export type DiskCheck = 'identity' | 'content';

/** How a disk's content was proven. */
export type ProvenBy = 'identity' | 'content';

interface Proof {
  readonly by: ProvenBy;
  /** The chunks' hashes: the image's (identity) or the file's (content). */
  readonly content: ContentHash & ChunkList;
}

export class DiskContentCheck {
  private proofs: Promise<Map<number, Proof>> | undefined;
  /** When every disk was proven (hashed, or its identity found), ms from `t0`; 0 until then. */
  provenAt = 0;

  constructor(
    private readonly disks: readonly XenDisk[],
    private readonly files: readonly DiskFile[],
    private readonly hasher: Hasher64,
    private readonly mode: DiskCheck,
    private readonly t0: number,
  ) {}

  /**
   * Starts proving each disk, once: by identity where `recorded` (the image's records, once read) allows,
   * else by reading it. Called early without `recorded` (a rebuilt stream), every disk is read.
   */
  start(recorded?: ReadonlyMap<number, RecordedContent>): void {
    if (this.proofs) return;
    this.proofs = Promise.all(
      this.files.map(async (f) => [f.id, await this.prove(f, recorded?.get(f.id))] as const),
    ).then((pairs) => new Map(pairs));
    this.proofs.then(
      () => (this.provenAt = performance.now() - this.t0),
      () => undefined,
    );
  }

  /** The chunks' hashes of every disk, for the new tracking (starts the proofs if not yet started). */
  async chunks(): Promise<ReadonlyMap<number, ChunkList>> {
    this.start();
    return new Map([...(await this.proofs!)].map(([id, p]) => [id, p.content]));
  }

  /**
   * Throws a RestoreError naming the disk whose content is not the one `recorded` says; resolves with
   * how each disk was proven. Called last, before the domain runs.
   */
  async check(recorded: ReadonlyMap<number, RecordedContent>): Promise<Map<number, ProvenBy>> {
    this.start(recorded);
    const proofs = await this.proofs!;
    const how = new Map<number, ProvenBy>();
    for (const d of this.disks) {
      const want = recorded.get(d.id)!;
      const file = this.files.find((f) => f.id === d.id)!;
      let proof = proofs.get(d.id)!;
      if (proof.by === 'identity' && !(await this.unchanged(file.path, want.file!))) {
        proof = await this.read(file.path, want);
      }
      let mine: ContentHash = proof.content;
      // An older image recorded another kind of hash: the file is read again for it.
      if (mine.chunkSectors !== want.chunkSectors)
        mine = await hashFileContent(file.path, this.hasher, want.chunkSectors);
      const expected = contentIdentity(want);
      const got = contentIdentity(mine);
      if (got !== expected) {
        throw new RestoreError(
          `disk ${d.id} (${d.vdev}): its content is not the one the image was saved with (${got}, expected ${expected})`,
          undefined,
          d.id,
        );
      }
      how.set(d.id, proof.by);
    }
    return how;
  }

  private async prove(f: DiskFile, recorded: RecordedContent | undefined): Promise<Proof> {
    if (this.mode === 'identity' && recorded?.file && recorded.chunks) {
      if (await this.unchanged(f.path, recorded.file)) {
        return { by: 'identity', content: { ...recorded, chunks: recorded.chunks } };
      }
    }
    return this.read(f.path, recorded);
  }

  private async read(path: string, recorded: RecordedContent | undefined): Promise<Proof> {
    const chunkSectors = recorded?.chunkSectors || CONTENT_CHUNK_SECTORS;
    return { by: 'content', content: await hashFileChunks(path, this.hasher, chunkSectors) };
  }

  private async unchanged(path: string, recorded: FileIdentity): Promise<boolean> {
    try {
      return sameIdentity(await fileIdentity(path), recorded);
    } catch {
      return false; // the read that follows says why
    }
  }
}
