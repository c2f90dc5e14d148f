/** Server-rendered SVG charts: no chart library, no script, escaped like every other page. */
import type { FC } from 'hono/jsx';

export interface Series {
  label: string;
  values: Array<number | null>;
  color: string;
}

const W = 560;
const H = 180;
const PAD = { left: 48, right: 10, top: 24, bottom: 28 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (v > 0 && v < 0.01) return v.toExponential(1);
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export const Chart: FC<{ title: string; labels: string[]; series: Series[]; kind: 'bar' | 'line'; unit?: string }> = ({ title, labels, series, kind, unit }) => {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...all));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = Math.max(labels.length, 1);
  const step = plotW / n;
  const x = (i: number) => PAD.left + step * i + step / 2;
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const ticks = [0, max / 2, max];
  const every = Math.max(1, Math.ceil(n / 6));
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      <text x={PAD.left} y={14} font-size="12" font-weight="600">{`${title}${unit ? ` (${unit})` : ''}`}</text>
      {ticks.map((t) => (
        <g>
          <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={PAD.left - 6} y={y(t) + 4} font-size="10" text-anchor="end" fill="#5b6475">{fmt(t)}</text>
        </g>
      ))}
      {labels.map((l, i) => (i % every === 0 ? <text x={x(i)} y={H - 10} font-size="10" text-anchor="middle" fill="#5b6475">{l}</text> : null))}
      {series.map((s, si) =>
        kind === 'bar' ? (
          <g fill={s.color}>
            {s.values.map((v, i) => {
              if (v === null) return null;
              const bw = Math.max(2, (step * 0.7) / series.length);
              // eslint-disable-next-line security/detect-object-injection -- i is an array index from map(), not outside input
              return <rect x={x(i) - (bw * series.length) / 2 + bw * si} y={y(v)} width={bw} height={Math.max(0, PAD.top + plotH - y(v))}><title>{`${labels[i]}: ${fmt(v)}`}</title></rect>;
            })}
          </g>
        ) : (
          <g>
            <polyline fill="none" stroke={s.color} stroke-width="2" points={s.values.map((v, i) => (v === null ? '' : `${x(i)},${y(v)}`)).filter(Boolean).join(' ')} />
            {/* eslint-disable-next-line security/detect-object-injection -- i is an array index from map(), not outside input */}
            {s.values.map((v, i) => (v === null ? null : <circle cx={x(i)} cy={y(v)} r="2.5" fill={s.color}><title>{`${s.label} ${labels[i]}: ${fmt(v)}`}</title></circle>))}
          </g>
        ),
      )}
      {series.length > 1
        ? series.map((s, si) => (
            <g>
              <rect x={W - PAD.right - 120 + si * 60} y={6} width={10} height={10} fill={s.color} />
              <text x={W - PAD.right - 106 + si * 60} y={15} font-size="10">{s.label}</text>
            </g>
          ))
        : null}
    </svg>
  );
};
