// stampede web ui: line charts drawn as SVG, no library. One function,
// drawChart(el, points, series, opts), redraws a chart in `el` from the
// points ({t: unix ms, ...}), with gridlines, time axis, legend and a hover
// tooltip. `el.dataset.points` holds how many points it drew from.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

// A round axis maximum above `v`, and its tick step (4 to 6 ticks).
function niceScale(v) {
  if (!(v > 0)) return { max: 1, step: 0.25 };
  const raw = v / 4;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { max: Math.ceil(v / step) * step, step };
}

const axisLabel = (v) => Number(v.toFixed(2)).toLocaleString('en-US');

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600].map((s) => s * 1000);

function clock(t) {
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

// Every k-th point (and the last), so a path has about one point per pixel.
function thin(points, width) {
  if (points.length <= width) return points;
  const k = Math.ceil(points.length / width);
  const out = points.filter((_, i) => i % k === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
  return out;
}

function legend(el, series) {
  const key = series.map((s) => s.name).join('|');
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.innerHTML = series.map((s) => `<span><i style="background:${s.color}"></i>${s.name}</span>`).join('');
}

function drawChart(el, points, series, opts) {
  const fmt = (opts && opts.fmt) || ((v) => String(v));
  const legendEl = opts && opts.legend;
  if (legendEl) legend(legendEl, series);
  const w = Math.max(el.clientWidth, 200);
  const h = Math.max(el.clientHeight, 120);
  const m = { l: 54, r: 16, t: 10, b: 24 };
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const svg = svgEl('svg', { viewBox: `0 0 ${w} ${h}`, role: 'img' });
  el.dataset.points = String(points.length);
  if (points.length === 0) {
    svg.appendChild(svgEl('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'nodata' }, 'waiting for data'));
    el.replaceChildren(svg);
    el._chart = null;
    return;
  }
  const t0 = points[0].t;
  const t1 = Math.max(points[points.length - 1].t, t0 + 10000);
  let top = 0;
  for (const p of points) for (const s of series) top = Math.max(top, p[s.key] || 0);
  const y = niceScale(top);
  const xs = (t) => m.l + ((t - t0) / (t1 - t0)) * pw;
  const ys = (v) => m.t + ph - (Math.min(v, y.max) / y.max) * ph;

  for (let v = 0; v <= y.max + y.step / 2; v += y.step) {
    svg.appendChild(svgEl('line', { x1: m.l, x2: m.l + pw, y1: ys(v), y2: ys(v), class: 'grid' }));
    svg.appendChild(svgEl('text', { x: m.l - 8, y: ys(v) + 4, 'text-anchor': 'end', class: 'axis' }, axisLabel(v)));
  }
  const stepT = TIME_STEPS.find((s) => (t1 - t0) / s <= Math.max(2, Math.floor(pw / 90))) || TIME_STEPS[TIME_STEPS.length - 1];
  for (let t = Math.ceil(t0 / stepT) * stepT; t <= t1; t += stepT) {
    svg.appendChild(svgEl('text', { x: xs(t), y: h - 6, 'text-anchor': 'middle', class: 'axis' }, clock(t)));
  }
  const drawn = thin(points, pw);
  for (const s of series) {
    const d = drawn.map((p, i) => `${i ? 'L' : 'M'}${xs(p.t).toFixed(1)},${ys(p[s.key] || 0).toFixed(1)}`).join('');
    svg.appendChild(svgEl('path', { d, class: 'series', stroke: s.color, 'data-series': s.key }));
  }
  const cursor = svgEl('line', { x1: 0, x2: 0, y1: m.t, y2: m.t + ph, class: 'cursor', visibility: 'hidden' });
  svg.appendChild(cursor);
  const hit = svgEl('rect', { x: m.l, y: m.t, width: pw, height: ph, fill: 'transparent' });
  svg.appendChild(hit);
  el._chart = { points, series, fmt, xs, t0, t1, m, pw, cursor };
  hit.addEventListener('mousemove', (ev) => hover(el, ev));
  hit.addEventListener('mouseleave', () => unhover(el));
  el.replaceChildren(svg);
}

function hover(el, ev) {
  const c = el._chart;
  const tip = document.getElementById('tooltip');
  if (!c || !tip) return;
  const rect = el.getBoundingClientRect();
  const t = c.t0 + ((ev.clientX - rect.left - c.m.l) / c.pw) * (c.t1 - c.t0);
  let lo = 0;
  let hi = c.points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c.points[mid].t < t) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && Math.abs(c.points[lo - 1].t - t) < Math.abs(c.points[lo].t - t)) lo -= 1;
  const p = c.points[lo];
  const x = c.xs(p.t);
  c.cursor.setAttribute('x1', x);
  c.cursor.setAttribute('x2', x);
  c.cursor.setAttribute('visibility', 'visible');
  tip.innerHTML = `<b>${clock(p.t)}</b>` + c.series
    .map((s) => `<div><i style="background:${s.color}"></i>${s.name}: ${c.fmt(p[s.key] || 0)}</div>`).join('');
  tip.hidden = false;
  const left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  tip.style.left = `${left}px`;
  tip.style.top = `${ev.clientY + 14}px`;
}

function unhover(el) {
  const tip = document.getElementById('tooltip');
  if (tip) tip.hidden = true;
  if (el._chart) el._chart.cursor.setAttribute('visibility', 'hidden');
}
