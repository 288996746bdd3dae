/** Host prerequisites: each missing piece is a clear, actionable 'prerequisite' error (exit 2). */
import { describe, expect, it } from 'vitest';
import { LabError } from '../../backends/xen/lab/errors.ts';
import {
  GIB,
  checkFreeSpace,
  checkMirror,
  diagnoseStepLog,
  missingTools,
  missingToolsError,
} from '../../backends/xen/lab/prereq.ts';

const prerequisite = (message: RegExp) => (err: unknown) =>
  err instanceof LabError && err.kind === 'prerequisite' && message.test(err.message);

describe('missing tools', () => {
  it('names the tools and the Debian packages that provide them', () => {
    const m = missingTools(
      ['qemu-system-x86_64', 'debootstrap', 'gcc', 'cpio'],
      (c) => c === 'cpio',
      () => false,
    );
    expect(m.tools).toEqual(['qemu-system-x86_64', 'debootstrap', 'gcc', 'static libc (libc.a)']);
    expect(m.packages).toEqual(['qemu-system-x86', 'debootstrap', 'gcc', 'libc6-dev']);
    const err = missingToolsError(m, 'lab build');
    expect(err.kind).toBe('prerequisite');
    expect(err.message).toContain(
      'apt-get install --no-install-recommends qemu-system-x86 debootstrap gcc libc6-dev',
    );
  });

  it('finds nothing missing when every tool is there', () => {
    expect(missingTools(['qemu-system-x86_64'], () => true).tools).toEqual([]);
  });
});

describe('disk space', () => {
  it('refuses to start with too little free space, saying how much is needed', () => {
    expect(() => checkFreeSpace('/lab', 5 * GIB, 'a lab build', GIB)).toThrow(
      /disk full: a lab build needs 5.0 GiB free at \/lab, only 1.0 GiB available/,
    );
    expect(() => checkFreeSpace('/lab', 5 * GIB, 'a lab build', 6 * GIB)).not.toThrow();
  });
});

describe('the Debian mirror', () => {
  it('reports an unreachable mirror before any slow step starts', async () => {
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    const err = await checkMirror('http://127.0.0.1:1/debian', 5000).catch((e: unknown) => e);
    expect(err).toSatisfy(
      prerequisite(/^no network to the Debian mirror: http:\/\/127\.0\.0\.1:1\/debian\/dists/),
    );
  });
});

describe('diagnoseStepLog', () => {
  const mirror = 'http://deb.debian.org/debian';
  it('recognises a full disk, a lost mirror and a refused Xen version', () => {
    expect(diagnoseStepLog('mke2fs: No space left on device while writing', mirror)).toSatisfy(
      prerequisite(/^disk full/),
    );
    expect(
      diagnoseStepLog(
        'E: Failed getting release file http://deb.debian.org/debian/dists/bookworm/Release',
        mirror,
      ),
    ).toSatisfy(prerequisite(/^no network to the Debian mirror/));
    expect(
      diagnoseStepLog("LAB-ERROR the mirror's bookworm main suite has Xen 4.17.7, not 4.17.5: ...", mirror),
    ).toSatisfy(prerequisite(/has Xen 4\.17\.7, not 4\.17\.5/));
  });

  it('leaves other failures to be reported as failed steps', () => {
    expect(diagnoseStepLog('gcc: error: lckguest.c: syntax error', mirror)).toBeUndefined();
  });
});
