// A small declarative schema: defaults, types and limits for every key, validated in one pass
// that reports every problem with its key path.

export type Schema =
  | { kind: 'int'; default: number; min?: number; max?: number; doc: string }
  | { kind: 'bytes'; default: number; min?: number; max?: number; doc: string }
  | { kind: 'float'; default: number; min?: number; max?: number; exclusiveMin?: boolean; doc: string }
  | { kind: 'duration'; default: number; min?: number; max?: number; doc: string }
  | { kind: 'powerOfTwo'; default: number; min: number; max: number; doc: string }
  | { kind: 'string'; default: string; pattern?: RegExp; patternText?: string; doc: string }
  | { kind: 'enum'; default: string; values: readonly string[]; doc: string }
  | { kind: 'bool'; default: boolean; doc: string }
  | { kind: 'list'; item: Schema; default: unknown[]; doc: string; minItems?: number }
  /** A number or a text with units ("50kpps", "1GB", "80%"), kept as given for its user to parse. */
  | { kind: 'quantity'; default: string; doc: string }
  /** Names to strings (labels). */
  | { kind: 'map'; default: Record<string, string>; doc: string }
  | { kind: 'object'; fields: Record<string, Schema>; doc: string }
  | { kind: 'union'; tag: string; variants: Record<string, Schema & { kind: 'object' }>; doc: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[], readonly source: string) {
    super(`${source}: ${problems.length} problem(s) in the configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

const DURATION_UNITS: Record<string, number> = { ms: 1e-3, s: 1, m: 60, min: 60, h: 3600, d: 86_400 };

/** Parses 10, "10s", "500ms", "5m", "1h", "30d" into seconds (a bare number is seconds); null otherwise. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/.exec(v);
  if (!m) return null;
  return Number(m[1]) * DURATION_UNITS[m[2] ?? 's'];
}

/** Parses 4096, "64KiB", "4 MiB", "1GB" into bytes; null when it is not a size. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const n = Number(m[1]) * unit;
  return Number.isInteger(n) ? n : Math.round(n);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function defaults(s: Schema): unknown {
  switch (s.kind) {
    case 'object':
      return Object.fromEntries(Object.entries(s.fields).map(([k, f]) => [k, defaults(f)]));
    case 'union':
      throw new Error('a union has no default of its own');
    default:
      return structuredClone(s.default);
  }
}

/** Validates `v` against `s`, filling defaults; problems are pushed with their key path. */
export function validate(s: Schema, v: unknown, path: string, problems: string[]): unknown {
  const at = path || '(root)';
  if (v === undefined) {
    if (s.kind === 'union') {
      problems.push(`${at}: required`);
      return undefined;
    }
    return defaults(s);
  }
  switch (s.kind) {
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        problems.push(`${at}: expected an integer, got ${typeName(v)}`);
        return s.default;
      }
      return checkRange(v, s, at, problems);
    }
    case 'bytes': {
      const n = parseBytes(v);
      if (n === null) {
        problems.push(`${at}: expected a size such as 4096, "64KiB" or "4MiB", got ${typeName(v)}`);
        return s.default;
      }
      return checkRange(n, s, at, problems);
    }
    case 'float': {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        problems.push(`${at}: expected a number, got ${typeName(v)}`);
        return s.default;
      }
      if (s.exclusiveMin && s.min !== undefined && v <= s.min) {
        problems.push(`${at}: ${v} must be greater than ${s.min}`);
        return v;
      }
      return checkRange(v, s, at, problems);
    }
    case 'duration': {
      const n = parseDuration(v);
      if (n === null) {
        problems.push(`${at}: expected a duration such as 10, "10s", "500ms" or "5m", got ${typeName(v)}`);
        return s.default;
      }
      return checkRange(n, s, at, problems);
    }
    case 'powerOfTwo': {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        problems.push(`${at}: expected an integer, got ${typeName(v)}`);
        return s.default;
      }
      if (v < s.min || v > s.max || (v & (v - 1)) !== 0) {
        problems.push(`${at}: expected a power of two from ${s.min} to ${s.max}, got ${v}`);
      }
      return v;
    }
    case 'string': {
      if (typeof v !== 'string') {
        problems.push(`${at}: expected a string, got ${typeName(v)}`);
        return s.default;
      }
      if (s.pattern && !s.pattern.test(v)) {
        problems.push(`${at}: "${v}" is not ${s.patternText ?? `matching ${s.pattern}`}`);
      }
      return v;
    }
    case 'enum': {
      if (typeof v !== 'string' || !s.values.includes(v)) {
        problems.push(`${at}: expected one of ${s.values.join(', ')}, got ${typeName(v)}`);
        return s.default;
      }
      return v;
    }
    case 'bool': {
      if (typeof v !== 'boolean') {
        problems.push(`${at}: expected true or false, got ${typeName(v)}`);
        return s.default;
      }
      return v;
    }
    case 'quantity': {
      if ((typeof v !== 'number' || !Number.isFinite(v)) && (typeof v !== 'string' || v.trim() === '')) {
        problems.push(`${at}: expected a number or a quantity such as "50kpps" or "1GB", got ${typeName(v)}`);
        return s.default;
      }
      return String(v).trim();
    }
    case 'map': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push(`${at}: expected a mapping of names to strings, got ${typeName(v)}`);
        return s.default;
      }
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
        else problems.push(`${path}.${k}: expected a string, got ${typeName(x)}`);
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) {
        problems.push(`${at}: expected a list, got ${typeName(v)}`);
        return s.default;
      }
      if (s.minItems !== undefined && v.length < s.minItems) {
        problems.push(`${at}: needs at least ${s.minItems} item(s), got ${v.length}`);
      }
      return v.map((item, i) => validate(s.item, item, `${path}[${i}]`, problems));
    }
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push(`${at}: expected a mapping, got ${typeName(v)}`);
        return defaults(s);
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        if (!(key in s.fields)) {
          problems.push(`${path ? `${path}.` : ''}${key}: unknown key (known: ${Object.keys(s.fields).join(', ')})`);
        }
      }
      for (const [key, field] of Object.entries(s.fields)) {
        out[key] = validate(field, (v as Record<string, unknown>)[key], path ? `${path}.${key}` : key, problems);
      }
      return out;
    }
    case 'union': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push(`${at}: expected a mapping, got ${typeName(v)}`);
        return undefined;
      }
      const tag = (v as Record<string, unknown>)[s.tag];
      const variant = typeof tag === 'string' ? s.variants[tag] : undefined;
      if (!variant) {
        problems.push(`${path}.${s.tag}: expected one of ${Object.keys(s.variants).join(', ')}, got ${typeName(tag)}`);
        return undefined;
      }
      return validate(variant, v, path, problems);
    }
  }
}

function checkRange(n: number, s: { min?: number; max?: number }, at: string, problems: string[]): number {
  if (s.min !== undefined && n < s.min) problems.push(`${at}: ${n} is below the minimum ${s.min}`);
  if (s.max !== undefined && n > s.max) problems.push(`${at}: ${n} is above the maximum ${s.max}`);
  return n;
}

/** Leaf key paths of a schema with their env variable names: analyze.top -> NETSPECTRA_ANALYZE_TOP. */
export function envPaths(s: Schema, prefix = 'NETSPECTRA', path: string[] = []): Array<{ env: string; path: string[]; schema: Schema }> {
  if (s.kind === 'object') {
    return Object.entries(s.fields).flatMap(([k, f]) => envPaths(f, prefix, [...path, k]));
  }
  if (s.kind === 'list' || s.kind === 'union' || s.kind === 'map') return [];
  const env = [prefix, ...path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
  return [{ env, path, schema: s }];
}
