import { describe, expect, it } from 'vitest';
import { NoSuchDomainError } from '../../../backends/xen/daemon/xen-host.ts';
import { domainIdOf, type DomainDirectory } from '../../../backends/xen/domain-directory.ts';

/** A directory of fixed names that records what it was asked. */
function directoryOf(names: Record<string, number>): DomainDirectory & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    domidOf: async (name) => {
      asked.push(name);
      return names[name];
    },
    unpause: async () => {},
  };
}

describe('domainIdOf', () => {
  it('takes a number as the domain id, without asking the directory', async () => {
    const dir = directoryOf({ '7': 3 });
    expect(await domainIdOf('7', dir)).toBe(7);
    expect(dir.asked).toEqual([]);
  });

  it('looks a name up in the directory', async () => {
    const dir = directoryOf({ web: 12, db: 0 });
    expect(await domainIdOf('web', dir)).toBe(12);
    // Domain 0 is a domain like any other, not "not found".
    expect(await domainIdOf('db', dir)).toBe(0);
    expect(dir.asked).toEqual(['web', 'db']);
  });

  it('refuses a name no domain has, naming it', async () => {
    const failure = domainIdOf('nosuch', directoryOf({ web: 12 }));
    await expect(failure).rejects.toBeInstanceOf(NoSuchDomainError);
    await expect(failure).rejects.toThrow('no domain named nosuch');
  });
});
