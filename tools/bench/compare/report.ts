/**
 * Results of the Drydock-vs-Docker comparison: statistics, the terminal and markdown tables
 * and a hand-written SVG bar chart (medians side by side, one group per workload).
 */

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(xs: number[]): Stats | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: m, min: s[0], max: s[s.length - 1], n: s.length };
}

/** One row of the table; `notMeasured` rows are printed with their reason instead of numbers. */
export interface Row {
  workload: string;
  unit: string;
  /** Whether a bigger number is better (rates); the ratio is Drydock/Docker either way. */
  higherIsBetter?: boolean;
  drydock?: Stats;
  docker?: Stats;
  /** e.g. bare runc as the floor of start latency */
  floor?: { label: string; stats: Stats };
  target?: string;
  notMeasured?: string;
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (s?: Stats) => (s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '');
export const ratio = (r: Row) => (r.drydock && r.docker && r.docker.median > 0 ? (r.drydock.median / r.docker.median).toFixed(2) : '');

function tableRows(rows: Row[]): string[][] {
  const out = [['workload', 'unit', 'Drydock median (min–max)', 'Docker median (min–max)', 'Drydock/Docker', 'target']];
  for (const r of rows) {
    if (r.notMeasured) {
      out.push([r.workload, r.unit, 'not measured', 'not measured', '', `${r.target ?? ''}${r.target ? '; ' : ''}${r.notMeasured}`]);
      continue;
    }
    out.push([`${r.workload}${r.drydock ? ` (n=${r.drydock.n})` : ''}`, r.unit, cell(r.drydock), cell(r.docker), ratio(r), r.target ?? '']);
    // the same number under both engines: it is what either pays at the very least
    if (r.floor) out.push([`  floor: ${r.floor.label} (n=${r.floor.stats.n})`, r.unit, cell(r.floor.stats), cell(r.floor.stats), '', 'floor, no engine']);
  }
  return out;
}

export function terminalTable(rows: Row[]): string {
  const t = tableRows(rows);
  const widths = t[0].map((_, i) => Math.max(...t.map((r) => r[i].length)));
  return t.map((r) => r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

export function markdownTable(rows: Row[]): string {
  const t = tableRows(rows);
  const line = (r: string[]) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(t[0]), line(t[0].map(() => '---')), ...t.slice(1).map(line)].join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One group per measured workload, Drydock and Docker medians as bars scaled to the larger of
 * the two (units differ between workloads, so each group has its own scale and prints values).
 */
export function svgChart(rows: Row[], title: string): string {
  const measured = rows.filter((r) => r.drydock && r.docker);
  const rowH = 54;
  const left = 330;
  const barMax = 380;
  const width = left + barMax + 140;
  const height = 60 + measured.length * rowH + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${left}" y="32" width="12" height="12" fill="#2b6cb0"/><text x="${left + 18}" y="42">Drydock</text>`,
    `<rect x="${left + 90}" y="32" width="12" height="12" fill="#a0aec0"/><text x="${left + 108}" y="42">Docker Engine</text>`,
  ];
  measured.forEach((r, i) => {
    const y = 60 + i * rowH;
    const max = Math.max(r.drydock!.median, r.docker!.median) || 1;
    const bar = (v: number, dy: number, color: string) => {
      const w = Math.max(1, (v / max) * barMax);
      parts.push(`<rect x="${left}" y="${y + dy}" width="${w.toFixed(1)}" height="18" fill="${color}"/>`);
      parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + dy + 13}">${fmt(v)} ${esc(r.unit)}</text>`);
    };
    parts.push(`<text x="10" y="${y + 16}">${esc(r.workload)}</text>`);
    parts.push(`<text x="10" y="${y + 34}" fill="#555">Drydock/Docker ${ratio(r)}${r.higherIsBetter ? ' (higher is better)' : ''}</text>`);
    bar(r.drydock!.median, 0, '#2b6cb0');
    bar(r.docker!.median, 20, '#a0aec0');
  });
  const notMeasured = rows.filter((r) => r.notMeasured).map((r) => `${r.workload}: not measured (${r.notMeasured})`);
  if (notMeasured.length) parts.push(`<text x="10" y="${height - 10}" fill="#555">${esc(notMeasured.join('; '))}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
