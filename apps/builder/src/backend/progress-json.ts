import type { supervisorV1 } from '@drydock/proto';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

function humanSize(bytes: number): string {
  let s = bytes;
  let i = 0;
  while (s >= 1000 && i < UNITS.length - 1) {
    s /= 1000;
    i++;
  }
  return `${Number(s.toPrecision(4))}${UNITS[i]}`;
}

/**
 * A pull progress message as dockerd's JSON stream carries it (jsonmessage: status, id, progressDetail,
 * progress bar of width 200 without time left). The gateway renders pulls the same way (images/progress.ts).
 */
export function progressMessage(p: supervisorV1.ImageProgress): Record<string, unknown> {
  const id = p.id ?? '';
  const status = p.status ?? '';
  const current = Number(p.current ?? 0);
  const total = Number(p.total ?? 0);
  const msg: Record<string, unknown> = {};
  if (status) msg.status = status;
  const isMessage = current <= 0 && total <= 0 && (id === '' || status.startsWith('Pulling from '));
  if (!isMessage) {
    const detail: Record<string, number> = {};
    if (current) detail.current = current;
    if (total) detail.total = total;
    msg.progressDetail = detail;
    if (current > 0 || total > 0) {
      const cur = humanSize(current).padStart(8);
      if (total > 0) {
        const pct = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
        msg.progress = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] ` + (current > total ? cur : `${cur}/${humanSize(total)}`);
      } else msg.progress = cur;
    }
  }
  if (id) msg.id = id;
  return msg;
}
