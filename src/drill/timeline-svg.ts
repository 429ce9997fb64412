/**
 * A drill report as a picture: one panel per measured phase (failover, hand-back), a time axis
 * from the command to the last event, the bound as a dashed line, each event a dot on its own row
 * with its time and what was seen. Plain SVG 1.1, no script, no external fonts: it opens in a
 * browser and embeds in a wiki or a ticket.
 */
import type { DrillReport, PhaseReport } from './report.js';

const WIDTH = 960;
const LEFT = 40;
const RIGHT = 40;
const ROW = 22;
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round numbers for the axis: 1, 2, 5 × 10^n, about six ticks. */
function tickStep(span: number): number {
  const raw = span / 6;
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function phase(title: string, r: PhaseReport, top: number): { svg: string[]; height: number } {
  const span = Math.max(r.boundMs, r.durationMs ?? 0, ...r.events.map((e) => e.t), 1) * 1.08;
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / span) * plotW;
  const out: string[] = [];
  const verdict = !r.completed ? 'did not complete' : r.withinBound ? 'PASS' : 'TOO SLOW';
  const color = !r.completed || !r.withinBound ? '#c62828' : '#2e7d32';
  out.push(
    `<text x="${LEFT}" y="${top + 16}" ${FONT} font-size="15" font-weight="bold">${escapeXml(title)}: ${r.durationMs !== undefined ? `${Math.round(r.durationMs)} ms` : '—'} <tspan fill="${color}">${verdict}</tspan></text>`,
  );
  out.push(`<text x="${LEFT}" y="${top + 34}" ${FONT} font-size="11" fill="#555">bound ${Math.round(r.boundMs)} ms = ${escapeXml(r.boundExplained)}; t0 ${escapeXml(r.t0)}</text>`);
  const axisY = top + 52;
  const rowsTop = axisY + 14;
  const bottom = rowsTop + r.events.length * ROW;
  // axis and ticks
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${WIDTH - RIGHT}" y2="${axisY}" stroke="#333"/>`);
  const step = tickStep(span);
  for (let t = 0, n = 0; t <= span && n < 50; t += step, n++) {
    out.push(`<line x1="${x(t).toFixed(1)}" y1="${axisY - 4}" x2="${x(t).toFixed(1)}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${axisY - 7}" ${FONT} font-size="10" text-anchor="middle" fill="#555">${Math.round(t)} ms</text>`);
  }
  // the bound, and the measured duration
  out.push(`<line x1="${x(r.boundMs).toFixed(1)}" y1="${axisY}" x2="${x(r.boundMs).toFixed(1)}" y2="${bottom}" stroke="#c62828" stroke-dasharray="5,4"/>`);
  out.push(`<text x="${(x(r.boundMs) - 4).toFixed(1)}" y="${bottom + 13}" ${FONT} font-size="10" text-anchor="end" fill="#c62828">bound ${Math.round(r.boundMs)} ms</text>`);
  if (r.durationMs !== undefined) {
    out.push(`<line x1="${x(r.durationMs).toFixed(1)}" y1="${axisY}" x2="${x(r.durationMs).toFixed(1)}" y2="${bottom}" stroke="${color}" stroke-width="2"/>`);
  }
  // one row per event; the label on the side with room
  r.events.forEach((e, i) => {
    const y = rowsTop + i * ROW + ROW / 2;
    const cx = x(e.t);
    const left = cx > LEFT + plotW * 0.55;
    const label = `t+${Math.round(e.t)} ms  ${e.detail}`;
    out.push(`<g class="event" data-event="${escapeXml(e.event)}" data-t="${e.t}">`);
    out.push(`<line x1="${LEFT}" y1="${y}" x2="${cx.toFixed(1)}" y2="${y}" stroke="#90a4ae" stroke-dasharray="2,3"/>`);
    out.push(`<circle cx="${cx.toFixed(1)}" cy="${y}" r="4.5" fill="#1565c0"/>`);
    out.push(`<text x="${(left ? cx - 8 : cx + 8).toFixed(1)}" y="${y + 4}" ${FONT} font-size="11"${left ? ' text-anchor="end"' : ''}>${escapeXml(label)}</text>`);
    out.push('</g>');
  });
  let height = bottom - top + 22;
  if (r.missing.length || r.error) {
    out.push(`<text x="${LEFT}" y="${bottom + 30}" ${FONT} font-size="11" fill="#c62828">${escapeXml(r.error ?? `not seen: ${r.missing.join(', ')}`)}</text>`);
    height += 18;
  }
  return { svg: out, height };
}

/** The report's timeline(s) as one SVG document. */
export function timelineSvg(rep: DrillReport): string {
  const body: string[] = [];
  const i = rep.instance;
  body.push(
    `<text x="${LEFT}" y="24" ${FONT} font-size="17" font-weight="bold">vipkeeper drill on ${escapeXml(rep.host)}: ${escapeXml(rep.result.toUpperCase())}</text>`,
    `<text x="${LEFT}" y="42" ${FONT} font-size="11" fill="#555">${escapeXml(i ? `${i.name}, VRID ${i.vrid}, VRRPv${i.version}, advert ${i.advertIntervalMs} ms, VIPs ${i.vips.join(' ')}; ` : '')}peer ${escapeXml(rep.peer)}; ${escapeXml(rep.startedAt)}</text>`,
    `<text x="${LEFT}" y="58" ${FONT} font-size="11" fill="#555">${escapeXml(rep.message)}</text>`,
  );
  let top = 72;
  for (const [title, r] of [
    ['failover', rep.failover],
    ['hand-back', rep.handBack],
  ] as const) {
    if (!r) continue;
    const p = phase(title, r, top);
    body.push(...p.svg);
    top += p.height + 12;
  }
  if (!rep.failover) {
    body.push(`<text x="${LEFT}" y="${top + 14}" ${FONT} font-size="12">no phase was measured (${escapeXml(rep.result)}): ${escapeXml(rep.prechecks.filter((c) => !c.ok).map((c) => c.detail).join('; ') || rep.message)}</text>`);
    top += 30;
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top}" viewBox="0 0 ${WIDTH} ${top}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
