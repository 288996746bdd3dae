/**
 * Composition root of the Xen backend: the only place that decides which object serves which port for
 * the `xen` commands. Everything below takes its dependencies as arguments; tests wire doubles directly.
 */
import { Container, type ServiceIdentifier } from 'inversify';
import { loadHasher } from '../../core/hash.ts';
import { TOKENS } from '../../core/tokens.ts';
import { RemoteTrackedDomain } from './daemon/control.ts';
import type { DomainHost } from './daemon/host.ts';
import { socketPath } from './daemon/paths.ts';
import { spawningAttacher } from './daemon/spawn.ts';
import { openXenHost } from './daemon/xen-host.ts';
import { dom0Directory, type DomainDirectory } from './domain-directory.ts';
import { openGuestMemory } from './guest-memory.ts';
import type { GuestMemoryFactory } from './restore.ts';
import type { DomainAttacher } from './tracked-domain.ts';

export const XEN_TOKENS = {
  /** Opens the host handles for one domain. */
  HostFactory: Symbol.for('leanckpt.xen.HostFactory') as ServiceIdentifier<
    (domid: number, log?: (message: string) => void) => DomainHost
  >,
  /** Reaches the tracking process of a domain. */
  Tracked: Symbol.for('leanckpt.xen.Tracked') as ServiceIdentifier<
    (domid: number) => Promise<RemoteTrackedDomain>
  >,
  Attacher: Symbol.for('leanckpt.xen.Attacher') as ServiceIdentifier<DomainAttacher>,
  /** Writable access to the pages of a domain `xl restore -p` left paused (a restore's direct fill). */
  GuestMemory: Symbol.for('leanckpt.xen.GuestMemory') as ServiceIdentifier<GuestMemoryFactory>,
  /** Domain names and unpausing for a restore, without an xl process per question. */
  Directory: Symbol.for('leanckpt.xen.Directory') as ServiceIdentifier<DomainDirectory>,
} as const;

export interface XenConfig {
  readonly logDirtyMs: number;
}

export async function xenContainer(cfg: XenConfig): Promise<Container> {
  const c = new Container();
  c.bind(TOKENS.Hasher).toConstantValue(await loadHasher());
  c.bind(XEN_TOKENS.HostFactory).toConstantValue(openXenHost);
  c.bind(XEN_TOKENS.Tracked).toConstantValue((domid) => RemoteTrackedDomain.connect(socketPath(domid)));
  c.bind(XEN_TOKENS.Attacher).toConstantValue(spawningAttacher(cfg.logDirtyMs));
  c.bind(XEN_TOKENS.GuestMemory).toConstantValue(openGuestMemory);
  c.bind(XEN_TOKENS.Directory).toConstantValue(dom0Directory);
  return c;
}
