// Readable numbers: SI prefixes for rates and counts, binary prefixes for sizes.

export function si(n: number, unit = '', digits = 3): string {
  const prefixes = ['', 'k', 'M', 'G', 'T', 'P'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
    v /= 1000;
    i++;
  }
  const text = i === 0 && Number.isInteger(v) ? String(v) : v.toPrecision(digits);
  return `${text} ${prefixes[i]}${unit}`.trimEnd();
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** 1,234,567.891 (as en-US writes numbers, at most three decimals), without loading the
 * locale data `toLocaleString` needs (tens of milliseconds at start-up). */
export function grouped(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [whole, fraction] = String(Math.round(Math.abs(n) * 1000) / 1000).split('.');
  return `${n < 0 && (Number(whole) > 0 || fraction) ? '-' : ''}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction ? `.${fraction}` : ''}`;
}

export function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

export function duration(ns: number): string {
  const s = ns / 1e9;
  if (s < 1) return `${(s * 1000).toFixed(3)} ms`;
  if (s < 120) return `${s.toFixed(3)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = (s % 60).toFixed(0);
  return h > 0 ? `${h} h ${m} min ${sec} s` : `${m} min ${sec} s`;
}

/** "1700000000.123456789" -> "2023-11-14 22:13:20.123456789 UTC" */
export function epochText(t: string | null): string {
  if (!t) return '-';
  const [sec, frac = '0'] = t.split('.');
  const iso = new Date(Number(sec) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  return `${iso}.${frac.padEnd(9, '0')} UTC`;
}
