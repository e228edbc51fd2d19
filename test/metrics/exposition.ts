/**
 * A strict reader of Prometheus's text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/), for tests: it throws on anything
 * a Prometheus server would refuse or misread (a malformed line, a sample before its TYPE, a
 * family split in two, a repeated series, histogram buckets that are not cumulative or disagree
 * with `_count`), and returns the samples by family.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its TYPE, HELP and samples. */
export interface Family {
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/** Parses an exposition; throws with the line number on the first violation. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  let current: string | undefined;
  text.split('\n').slice(0, -1).forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail('bad metric name');
      const family = families.get(name) ?? { type: 'untyped', samples: [] };
      if (family.samples.length > 0 || closed.has(name)) fail(`${kind} after the samples of ${name}`);
      if (kind === 'TYPE') {
        if (typed.has(name)) fail('second TYPE');
        if (!TYPES.has(rest)) fail('unknown type');
        family.type = rest;
        typed.add(name);
      } else {
        if (family.help !== undefined) fail('second HELP');
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('bad escape in HELP');
        family.help = rest;
      }
      families.set(name, family);
      if (current !== undefined && current !== name) closed.add(current);
      current = name;
      return;
    }
    if (line.startsWith('#')) return;
    const sample = parseSample(line, fail);
    const owner = familyOf(sample.name, families) ?? fail('sample without a TYPE for its family');
    if (closed.has(owner)) fail(`samples of ${owner} are not together`);
    if (current !== owner) {
      if (current !== undefined) closed.add(current);
      current = owner;
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) fail('repeated series');
    series.add(key);
    families.get(owner)!.samples.push(sample);
  });
  for (const [name, family] of families) if (family.type === 'histogram') checkHistogram(name, family);
  return families;
}

/** The value of one series, or undefined when it is absent. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families);
  const found = family && families.get(family)!.samples.find(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value) && Object.keys(sample.labels).length === Object.keys(labels).length,
  );
  return found?.value;
}

function familyOf(sampleName: string, families: Map<string, Family>): string | undefined {
  if (families.has(sampleName) && families.get(sampleName)!.type !== 'histogram') return sampleName;
  for (const [name, family] of families) {
    if ((SUFFIXES[family.type] ?? ['']).some((suffix) => `${name}${suffix}` === sampleName)) return name;
  }
  return undefined;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line) ?? fail('bad sample name');
  const name = head[1]!;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest) ?? fail('bad label');
      if (!LABEL_NAME.test(label[1]!) || label[1]!.startsWith('__')) fail(`bad label name ${label[1]}`);
      if (label[1]! in labels) fail('repeated label');
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(label[0].length);
      if (label[3] === '' && !rest.startsWith('}')) fail('labels must be separated by commas');
    }
    rest = rest.slice(1);
  }
  const value = /^ (\S+)( -?\d+)?$/.exec(rest) ?? fail('bad value');
  const number = parseValue(value[1]!) ?? fail('value is not a number');
  return { name, labels, value: number };
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(text: string): number | undefined {
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : undefined;
}

/** Buckets cumulative and ending at +Inf, equal to `_count`, for each label set. */
function checkHistogram(name: string, family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${name}: a bucket without le`);
      group.buckets.push([parseValue(le)!, sample.value]);
    } else if (sample.name.endsWith('_count')) group.count = sample.value;
    else group.sum = sample.value;
  }
  for (const [labels, group] of groups) {
    const where = `${name}${labels}`;
    const last = group.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    group.buckets.forEach(([le, count], i) => {
      const previous = group.buckets[i - 1];
      if (previous && (previous[0] >= le || previous[1] > count)) throw new Error(`${where}: buckets not in order or not cumulative`);
    });
    if (group.count !== last[1] || group.sum === undefined) throw new Error(`${where}: _count differs from the +Inf bucket, or _sum is missing`);
  }
}
