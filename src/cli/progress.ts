import type { ProgressEvent } from '../operations/define.js';

/**
 * Compact progress on a terminal: one status line, rewritten in place.
 * Per-layer pull/push progress is summarised as layers done / total and
 * bytes; byte streams (export, save) show bytes and rate.
 */
export function createProgressRenderer(out: NodeJS.WriteStream): { update: (e: ProgressEvent) => void; done: () => void } {
  const layers = new Map<string, { current: number; total: number; done: boolean }>();
  let bytes = 0;
  let lastDraw = 0;
  let drawn = false;
  const started = Date.now();

  const draw = (line: string, force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const width = (out.columns || 80) - 1;
    out.write(`\r\x1b[2K${line.slice(0, width)}`);
    drawn = true;
  };

  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

  return {
    update(e) {
      if (e.kind === 'bytes') {
        bytes = e.bytes;
        const secs = Math.max(0.001, (Date.now() - started) / 1000);
        const pct = e.total ? ` ${Math.floor((100 * bytes) / e.total)}%` : '';
        draw(`${e.label ?? 'transfer'}: ${mb(bytes)}${pct} (${mb(bytes / secs)}/s)`);
        return;
      }
      const m = e.message;
      if (m.stream) {
        draw(m.stream.trim());
        return;
      }
      if (m.id && m.progressDetail) {
        const l = layers.get(m.id) ?? { current: 0, total: 0, done: false };
        l.current = m.progressDetail.current ?? l.current;
        l.total = m.progressDetail.total ?? l.total;
        if (/complete|already exists|pushed|mounted/i.test(m.status ?? '')) l.done = true;
        layers.set(m.id, l);
        const done = [...layers.values()].filter((x) => x.done).length;
        const cur = [...layers.values()].reduce((a, x) => a + x.current, 0);
        const tot = [...layers.values()].reduce((a, x) => a + x.total, 0);
        draw(`layers ${done}/${layers.size}  ${mb(cur)}${tot ? ` / ${mb(tot)}` : ''}  ${m.status ?? ''}`);
        return;
      }
      if (m.status) draw(m.status);
    },
    done() {
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}
