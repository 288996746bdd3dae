/**
 * The two things the commands ask of the toolstack besides `xl save` and `xl restore` themselves: which
 * domain has a name, and unpausing the domain a restore built once every check has passed. Through xl
 * (each call a process: about a second in the lab's emulated dom0), or straight through libxenctrl and
 * xenstore in a dom0, as the commands do.
 */
import { NoSuchDomainError } from './daemon/xen-host.ts';
import { XenCtrl } from './ffi/xenctrl.ts';
import { XenStore } from './ffi/xenstore.ts';
import { runXl } from './xl-process.ts';

export interface DomainDirectory {
  /** The domain named `name`, if there is one. */
  domidOf(name: string): Promise<number | undefined>;
  /** Lets a domain that `xl restore -p` left paused run. */
  unpause(domid: number): Promise<void>;
}

/**
 * What a command names a domain by: its id, or its name as `directory` finds it. The commands ask the
 * dom0 directory rather than `xl domid`, a process each save started and waited for before its first
 * step (0.28 s of CPU and 0.18 s of waiting in a profiled lab run).
 */
export async function domainIdOf(domain: string, directory: DomainDirectory): Promise<number> {
  if (/^\d+$/.test(domain)) return Number(domain);
  const domid = await directory.domidOf(domain);
  if (domid === undefined) throw new NoSuchDomainError(`no domain named ${domain}`);
  return domid;
}

export const xlDirectory: DomainDirectory = {
  domidOf: (name) =>
    runXl(['domid', name]).then(
      (out) => {
        const domid = Number(out.trim());
        return Number.isSafeInteger(domid) ? domid : undefined;
      },
      () => undefined,
    ),
  unpause: async (domid) => void (await runXl(['unpause', String(domid)])),
};

/**
 * Names from xenstore (`/local/domain/<id>/name`, written by libxl when it creates a domain) and
 * unpausing by hypercall. An HVM guest's device model must be told to continue as well, which only
 * libxl knows how to do: those are unpaused through xl.
 */
export const dom0Directory: DomainDirectory = {
  async domidOf(name) {
    const xc = XenCtrl.open();
    const xs = XenStore.open();
    try {
      const found = xc.domains().find((d) => !d.dying && xs.read(`/local/domain/${d.domid}/name`) === name);
      return found?.domid;
    } finally {
      xs.close();
      xc.close();
    }
  },
  async unpause(domid) {
    const xc = XenCtrl.open();
    try {
      const kind = xc.domain(domid)?.kind;
      if (kind === 'hvm') return await xlDirectory.unpause(domid);
      xc.unpause(domid);
    } finally {
      xc.close();
    }
  },
};
