/**
 * Canonical Kubernetes quantities, so the API server's normalization never differs from what we
 * send (otherwise Metacontroller sees a diff and updates the child on every sync).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const PATTERN = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

/** Exact value as a fraction num/10^scale, for comparisons and canonical formatting. */
interface Exact {
  /** value = mantissa * 10^exp10 * 2^exp2 */
  mantissa: bigint;
  exp10: number;
  exp2: number;
  format: "binary" | "decimal" | "exponent";
}

function parseExact(q: string): Exact {
  const m = PATTERN.exec(q.trim());
  if (!m || m[1] === undefined) throw new Error(`invalid quantity "${q}"`);
  const number = m[1];
  const suffix = m[2] ?? "";
  const negative = number.startsWith("-");
  const digits = number.replace(/^[+-]/, "");
  const [intPart = "", fracPart = ""] = digits.split(".");
  let mantissa = BigInt((intPart + fracPart).replace(/^0+(?=.)/, "") || "0");
  if (negative) mantissa = -mantissa;
  let exp10 = -fracPart.length;
  let exp2 = 0;
  let format: Exact["format"] = "decimal";
  if (suffix in BINARY) {
    exp2 = Math.log2(BINARY[suffix] ?? 1);
    format = "binary";
  } else if (/^[eE]/.test(suffix)) {
    exp10 += Number(suffix.slice(1));
    format = "exponent";
  } else {
    exp10 += DECIMAL[suffix] ?? 0;
  }
  return { mantissa, exp10, exp2, format };
}

/** Value in "nano units" times 2^exp2 resolved: returns a bigint of the value * 10^9. */
function toNano(e: Exact): bigint {
  let v = e.mantissa * 2n ** BigInt(e.exp2);
  const shift = e.exp10 + 9;
  if (shift >= 0) v *= 10n ** BigInt(shift);
  else v /= 10n ** BigInt(-shift); // precision below 1n is dropped, as Kubernetes rounds up; fine for comparisons
  return v;
}

/** Compares two quantities: negative, zero or positive. */
export function compareQuantities(a: string, b: string): number {
  const d = toNano(parseExact(a)) - toNano(parseExact(b));
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/**
 * The form the API server stores for `q` (Kubernetes canonicalization): binary suffixes when the
 * input used one and the value is a whole multiple of 1024^n; otherwise the largest decimal
 * suffix that keeps an integer (`1000m` -> `1`, `1500m` -> `1500m`, `0.5` -> `500m`, `1e3` -> `1k`).
 */
export function canonicalQuantity(q: string): string {
  const e = parseExact(q);
  const nano = toNano(e);
  if (nano === 0n) return "0";
  const sign = nano < 0n ? "-" : "";
  const abs = nano < 0n ? -nano : nano;
  if (e.format === "binary" && abs % 10n ** 9n === 0n) {
    const units = abs / 10n ** 9n;
    const suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let value = units;
    let i = 0;
    while (i < suffixes.length - 1 && value % 1024n === 0n) {
      value /= 1024n;
      i++;
    }
    if (i > 0) return `${sign}${value}${suffixes[i]}`;
  }
  const decimals: Array<[number, string]> = [
    [18, "E"],
    [15, "P"],
    [12, "T"],
    [9, "G"],
    [6, "M"],
    [3, "k"],
    [0, ""],
    [-3, "m"],
    [-6, "u"],
    [-9, "n"],
  ];
  for (const [exp, suffix] of decimals) {
    const unit = 10n ** BigInt(exp + 9);
    if (abs % unit === 0n) return `${sign}${abs / unit}${suffix}`;
  }
  return `${sign}${abs}n`;
}

/** Canonicalizes every value of a resource list (int-or-string values). */
export function canonicalResourceList(list: Record<string, string | number> | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  const out: Record<string, string> = {};
  for (const key of Object.keys(list).sort()) {
    const value = list[key];
    if (value !== undefined) out[key] = canonicalQuantity(String(value));
  }
  return out;
}
