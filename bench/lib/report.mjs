import { fmt } from './stats.mjs';

/**
 * One table for the whole run. A row holds the figures of each client, a
 * ratio and the target it is checked against:
 *   ratio  = connector / reference, where the reference is a column
 *   result = "met" / "missed" / "n/a" (no target, or the workload did not run)
 * Rows of the small calls also hold the floor (`values.socket`, a raw socket
 * reading only status and length): `row.floor` gives each client's figure
 * divided by it (unless `floor: false`: a p99 against the floor's p99 says
 * little). It is shown beside the ratio, never used by a target.
 */

const CMP = { '<=': (a, b) => a <= b, '>=': (a, b) => a >= b };
const SYMBOL = { '<=': '≤', '>=': '≥' };
const REF_LABEL = { undici: 'raw undici', dockerode: 'dockerode', other: '' };

/**
 * A row whose target is a ratio: connector / values[against] compared with `limit`.
 * `otherLabel` names what the "other" column holds on this row.
 */
export function ratioRow(workload, metric, values, { against, cmp, limit, otherLabel, note, floor = true } = {}) {
  const row = { workload, metric, values, note };
  if (otherLabel) row.otherLabel = otherLabel;
  if (floor && Number.isFinite(values.socket)) {
    row.floor = {};
    for (const k of ['connector', 'undici', 'dockerode']) if (Number.isFinite(values[k])) row.floor[k] = values[k] / values.socket;
  }
  if (against) {
    const ref = values[against];
    const ratio = values.connector / ref;
    const refName = against === 'other' ? otherLabel : REF_LABEL[against];
    row.ratio = ratio;
    row.ratioOf = `connector / ${refName}`;
    row.target = `${SYMBOL[cmp]} ${limit.toFixed(2)} × ${refName}`;
    row.met = Number.isFinite(ratio) ? CMP[cmp](ratio, limit) : null;
  }
  return row;
}

/** A row whose target is an absolute bound on the connector's figure (peak RSS). */
export function boundRow(workload, metric, values, { cmp, limit, unit, extra, otherLabel, note }) {
  const row = { workload, metric, values, note };
  if (otherLabel) row.otherLabel = otherLabel;
  let met = CMP[cmp](values.connector, limit);
  row.target = `${SYMBOL[cmp]} ${limit} ${unit}`;
  if (extra) {
    // A second condition, e.g. "within 1.2 × the 300 MB run's".
    row.ratio = extra.ratio;
    row.ratioOf = extra.ratioOf;
    row.target += ` and ${extra.label}`;
    met = met && extra.ok;
  }
  row.met = Number.isFinite(values.connector) ? met : null;
  return row;
}

/** A row that could not run (operation or service missing). */
export function unavailableRow(workload, metric, why) {
  return { workload, metric, values: {}, note: `not available: ${why}`, met: null, unavailable: true };
}

const times = (x) => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);

function resultCell(row) {
  if (row.unavailable) return 'not available';
  if (row.met === undefined) return '—';
  if (row.met === null) return 'n/a';
  return row.met ? '✅ met' : '❌ missed';
}

export function renderMarkdown(meta, rows) {
  const lines = [];
  lines.push(`### Benchmark (${meta.mode} run, ${meta.date})`);
  lines.push('');
  lines.push(
    `Node ${meta.versions.node} · Engine ${meta.versions.engine} (API ${meta.versions.apiVersion}, "${meta.engine}") · docker-connector ${meta.versions.connector} (${meta.dist ?? 'dist/'}) · undici ${meta.versions.undici} · dockerode ${meta.versions.dockerode} · autocannon ${meta.versions.autocannon} · hyperfine ${meta.versions.hyperfine} · docker CLI ${meta.versions.dockerCli}`,
  );
  lines.push(`${meta.machine.cpus} × ${meta.machine.cpuModel}, load average ${meta.machine.loadStart} at start, ${meta.machine.loadEnd} at end; ${Math.round(meta.durationS)} s.`);
  lines.push('');
  lines.push('| Workload | Metric | Connector | Raw undici | dockerode | Raw socket (floor) | Connector / floor | Other | Ratio | Target | Result |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---|---:|---|---|');
  for (const r of rows) {
    const v = r.values;
    const other = v.other === undefined ? '—' : `${fmt(v.other)}${r.otherLabel ? ` (${r.otherLabel})` : ''}`;
    const metric = r.note ? `${r.metric} ¹` : r.metric;
    lines.push(
      `| ${r.workload} | ${metric} | ${fmt(v.connector)} | ${fmt(v.undici)} | ${fmt(v.dockerode)} | ${fmt(v.socket)} | ${times(r.floor?.connector)} | ${other} | ${times(r.ratio)} | ${r.target ?? '—'} | ${resultCell(r)} |`,
    );
  }
  const floored = rows.filter((r) => r.floor);
  if (floored.length) {
    // Every client against the floor, on the same metric: above 1× for times, below 1× for calls/s.
    lines.push('');
    lines.push('Distance from the floor (each client\'s figure / the raw socket\'s, same metric; no target):');
    lines.push('');
    lines.push('| Workload | Metric | Raw socket (floor) | Connector | Raw undici | dockerode |');
    lines.push('|---|---|---:|---:|---:|---:|');
    for (const r of floored) lines.push(`| ${r.workload} | ${r.metric} | ${fmt(r.values.socket)} | ${times(r.floor.connector)} | ${times(r.floor.undici)} | ${times(r.floor.dockerode)} |`);
  }
  const notes = rows.filter((r) => r.note);
  if (notes.length) {
    lines.push('');
    lines.push('¹ Notes:');
    for (const r of notes) lines.push(`- ${r.workload}, ${r.metric}: ${r.note}`);
  }
  if (meta.notes?.length) {
    lines.push('');
    for (const n of meta.notes) lines.push(`- ${n}`);
  }
  const judged = rows.filter((r) => r.met === true || r.met === false);
  lines.push('');
  lines.push(`Targets met: ${judged.filter((r) => r.met).length} of ${judged.length}${rows.some((r) => r.unavailable) ? `; not available: ${rows.filter((r) => r.unavailable).length}` : ''}.`);
  return `${lines.join('\n')}\n`;
}
