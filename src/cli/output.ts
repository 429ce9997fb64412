import type { Diagnostic } from '../config/diagnostics.js';
import { formatDiagnostic, sortDiagnostics } from '../config/diagnostics.js';

export function printDiagnostics(ds: Diagnostic[], stream: NodeJS.WritableStream = process.stderr): void {
  for (const d of sortDiagnostics(ds)) stream.write(`${formatDiagnostic(d)}\n`);
}

export function summary(ds: Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  const w = ds.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}
