/** How memory writes reach the core (see docs/invalidation.md, "Delivery modes"). */
export type Delivery =
  | { readonly kind: 'precise' }
  | { readonly kind: 'epoch'; readonly epochEvents: number; readonly revalidate: boolean };

export const PRECISE: Delivery = { kind: 'precise' };

/** Parses "precise", "epoch:N" or "epoch:N+revalidate". */
export function parseDelivery(text: string): Delivery {
  if (text === 'precise') return PRECISE;
  const m = /^epoch:(\d+)(\+revalidate)?$/.exec(text);
  if (!m || Number(m[1]) < 1) {
    throw new RangeError(
      `delivery must be "precise", "epoch:N" or "epoch:N+revalidate" (N >= 1), got "${text}"`,
    );
  }
  return { kind: 'epoch', epochEvents: Number(m[1]), revalidate: m[2] !== undefined };
}

export function deliveryName(d: Delivery): string {
  return d.kind === 'precise' ? 'precise' : `epoch:${d.epochEvents}${d.revalidate ? '+revalidate' : ''}`;
}
