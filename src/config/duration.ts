// Durations are written as `1s`, `100ms`, `1.5s`, `2m`; a bare number means seconds,
// as keepalived writes them. Internally a duration is a number of milliseconds.

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const DURATION_PATTERN = '^\\s*[0-9]+(\\.[0-9]+)?\\s*(us|ms|s|m|h)?\\s*$';
const DURATION_RE = new RegExp(DURATION_PATTERN);

/** Parses `1.5s` → 1500. Returns undefined when the text is not a duration. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? roundMs(value * 1000) : undefined;
  const m = DURATION_RE.exec(value);
  if (!m) return undefined;
  const num = Number.parseFloat(value);
  const unit = m[2] ?? 's';
  return roundMs(num * (UNIT_MS[unit] ?? 1000));
}

/** keepalived keeps microseconds; we keep milliseconds with three decimals. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** 1500 → "1.5s", 100 → "100ms", 0 → "0s". The inverse of parseDuration. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms >= 1000) {
    const s = ms / 1000;
    if (parseDuration(`${s}s`) === ms) return `${s}s`;
  }
  if (Number.isInteger(ms)) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}
