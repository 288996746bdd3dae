/** How memory writes reach the core (see docs/invalidation.md, "Delivery modes"). */
export type Delivery =
  /**
   * Events as the source has them. With `revalidate`, the `dirty` events the source itself carries (a
   * trace recorded with log-dirty) are hash-revalidated, as the recording tracker did.
   */
  | { readonly kind: 'precise'; readonly revalidate?: boolean }
  | { readonly kind: 'epoch'; readonly epochEvents: number; readonly revalidate: boolean };

export const PRECISE: Delivery = { kind: 'precise' };

/** Parses "precise", "precise+revalidate", "epoch:N" or "epoch:N+revalidate". */
export function parseDelivery(text: string): Delivery {
  if (text === 'precise') return PRECISE;
  if (text === 'precise+revalidate') return { kind: 'precise', revalidate: true };
  const m = /^epoch:(\d+)(\+revalidate)?$/.exec(text);
  if (!m || Number(m[1]) < 1) {
    throw new RangeError(
      `delivery must be "precise", "precise+revalidate", "epoch:N" or "epoch:N+revalidate" (N >= 1), got "${text}"`,
    );
  }
  return { kind: 'epoch', epochEvents: Number(m[1]), revalidate: m[2] !== undefined };
}

export function deliveryName(d: Delivery): string {
  const base = d.kind === 'precise' ? 'precise' : `epoch:${d.epochEvents}`;
  return d.revalidate === true ? `${base}+revalidate` : base;
}
