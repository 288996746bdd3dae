/** Recipe hashing: a step is rebuilt exactly when one of its inputs, or a step it builds on, changed. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECIPE_DIR, STEPS, recipeHash, stepHashes } from '../../backends/xen/lab/recipe.ts';

const real = (f: string): Buffer => readFileSync(join(RECIPE_DIR, f));
const ext = { nodeDigest: 'a'.repeat(64) };
const changed = (file: string) => (f: string) =>
  f === file ? Buffer.concat([real(f), Buffer.from('#')]) : real(f);

describe('stepHashes', () => {
  it('is stable for the same inputs and covers every recipe file that exists', () => {
    expect(stepHashes(ext)).toEqual(stepHashes(ext));
    for (const s of STEPS) for (const f of s.files) expect(() => real(f)).not.toThrow();
  });

  it('editing the guest agent rebuilds only the guest', () => {
    const a = stepHashes(ext);
    const b = stepHashes(ext, changed('guest/lckguest.c'));
    expect(b.get('dom0-base')).toBe(a.get('dom0-base'));
    expect(b.get('dom0-image')).toBe(a.get('dom0-image'));
    expect(b.get('guest')).not.toBe(a.get('guest'));
    expect(recipeHash(b)).not.toBe(recipeHash(a));
  });

  it('a new dom0 package list rebuilds everything built on it', () => {
    const a = stepHashes(ext);
    const b = stepHashes(ext, changed('dom0-base.sh'));
    for (const s of STEPS) expect(b.get(s.name)).not.toBe(a.get(s.name));
  });

  it('another node binary rebuilds only the dom0 image it is copied into', () => {
    const a = stepHashes(ext);
    const b = stepHashes({ nodeDigest: 'b'.repeat(64) });
    expect(b.get('dom0-base')).toBe(a.get('dom0-base'));
    expect(b.get('dom0-image')).not.toBe(a.get('dom0-image'));
    expect(b.get('guest')).toBe(a.get('guest'));
  });
});
