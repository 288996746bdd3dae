/** The scenario line protocol: what a run reported, and when it counts as failed. */
import { describe, expect, it } from 'vitest';
import { failures, parseRunOutput, retries } from '../../backends/xen/lab/protocol.ts';

const passing = [
  'LAB-BOOTED 54.15',
  'RESULT xen_version 4.17.5',
  'Parsing config from /var/lib/lab/lab-pv.cfg',
  'STEP pv.create 12.40 retry',
  'STEP pv.create 11.02 ok',
  'RESULT pv.image_bytes 268974605',
  'CHECK pv.verify_stream ok 71 record lines',
  'INTEGRITY lab-pv OK anon_pages=8192 file_pages=29696 resident_pct=99.1 seconds=1.07\r',
  'LAB-RC 0',
].join('\n');

describe('parseRunOutput', () => {
  it('separates steps, results, checks, integrity reports and log lines', () => {
    const r = parseRunOutput(passing);
    expect(r.bootedAfter).toBe(54.15);
    expect(r.rc).toBe(0);
    expect(r.steps).toEqual([
      { name: 'pv.create', seconds: 12.4, status: 'retry' },
      { name: 'pv.create', seconds: 11.02, status: 'ok' },
    ]);
    expect(r.results).toEqual({ xen_version: '4.17.5', 'pv.image_bytes': '268974605' });
    expect(r.checks).toEqual([{ name: 'pv.verify_stream', ok: true, detail: '71 record lines' }]);
    expect(r.integrity).toEqual([
      {
        guest: 'lab-pv',
        ok: true,
        detail: 'anon_pages=8192 file_pages=29696 resident_pct=99.1 seconds=1.07',
      },
    ]);
    expect(r.log).toEqual(['Parsing config from /var/lib/lab/lab-pv.cfg']);
    expect(failures(r)).toEqual([]);
    expect(retries(r)).toEqual(['pv.create']);
  });

  it('keeps malformed or cut protocol lines as log instead of guessing', () => {
    const r = parseRunOutput(
      'STEP pv.save\nSTEP pv.save 1.5 maybe\nRESULT\nINTEGRITY lab-pv MAYBE\nLAB-RC x',
    );
    expect(r.steps).toEqual([]);
    expect(r.integrity).toEqual([]);
    expect(r.rc).toBeUndefined();
    expect(r.log).toHaveLength(5);
  });
});

describe('failures', () => {
  it('names every reason: failed steps and checks, corrupt guests, a nonzero status', () => {
    const r = parseRunOutput(
      [
        'LAB-BOOTED 50',
        'STEP pvh.save_file 5.1 fail',
        'CHECK pv.verify_stream fail see verify-pv.log',
        'INTEGRITY lab-pvh CORRUPT 0 anon and 1 file pages wrong, first: file f03 page 5 holds obj 7 page 9 gen 0',
        'LAB-RC 1',
      ].join('\n'),
    );
    expect(failures(r)).toEqual([
      'the scenario exited with status 1',
      'step pvh.save_file failed',
      'check pv.verify_stream failed: see verify-pv.log',
      'guest lab-pvh: INTEGRITY CORRUPT 0 anon and 1 file pages wrong, first: file f03 page 5 holds obj 7 page 9 gen 0',
    ]);
  });

  it('fails a run that never booted, never finished, or reported nothing', () => {
    expect(failures(parseRunOutput(''))).toEqual(['dom0 never started the scenario']);
    expect(failures(parseRunOutput('LAB-BOOTED 50\nSTEP pv.create 3 ok'))).toEqual([
      'the scenario did not finish',
    ]);
    expect(failures(parseRunOutput('LAB-BOOTED 50\nLAB-RC 0'))).toEqual(['the scenario reported no step']);
  });
});
