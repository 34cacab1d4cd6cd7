/**
 * Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1Gi`, `1G`, `1e3`) as plain numbers in
 * base units (cores, bytes, pods). Floating point is fine for fitting pods onto simulated nodes.
 */
const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY_RE = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

export function parseQuantity(q: string | number | undefined | null): number {
  if (q === undefined || q === null) return 0;
  if (typeof q === 'number') return q;
  const s = q.trim();
  const m = QUANTITY_RE.exec(s);
  if (!m) throw new Error(`invalid quantity "${q}"`);
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  const mult = BINARY[suffix] ?? DECIMAL[suffix];
  if (mult === undefined) throw new Error(`invalid quantity suffix in "${q}"`);
  return base * mult;
}

/** Like parseQuantity but never throws: an unparsable quantity counts as 0 (the scenario's mistake, not ours). */
export function quantityOrZero(q: string | number | undefined | null): number {
  try {
    return parseQuantity(q);
  } catch {
    return 0;
  }
}
