/**
 * The README's examples as data: its fenced code blocks, which of them run, and the output a
 * reader is shown after them. The README test (readme.test.ts) runs what this finds, so a changed
 * README is tested as it stands.
 *
 * Conventions the README follows:
 * - ```sh, ```graphql, ```js and ```python blocks are examples and run;
 * - a ```text or ```json block right after an example (nothing but blank lines between) is the
 *   output of that example's last command, compared with `…` standing for "anything here" and
 *   whitespace ignored;
 * - `<!-- readme-test: not run (reason) -->` on the line before a block leaves it out, with a reason.
 */
import { readFileSync } from 'node:fs';

/** A fenced block of the README. */
export interface ReadmeBlock {
  /** The info string (`sh`, `graphql`, …; empty when none). */
  lang: string;
  /** Its text, without the fences. */
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
  /** Set when the README says not to run it. */
  notRun?: string;
  /** The output shown right after it, if any. */
  output?: ReadmeBlock;
}

/** Block languages that are examples to run. */
export const RUNNABLE = new Set(['sh', 'graphql', 'js', 'python']);
const OUTPUT = new Set(['text', 'json']);

/** Every fenced block of `file`, outputs attached to the examples they follow. */
export function readmeBlocks(file: string): ReadmeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: (ReadmeBlock & { end: number })[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const marker = /^<!-- readme-test: not run \((.+)\) -->$/.exec(lines[start - 1] ?? '');
    blocks.push({ lang: open[1]!, code: body.join('\n'), line: start + 1, end: i, notRun: marker?.[1] });
  }
  const result: ReadmeBlock[] = [];
  for (const [index, block] of blocks.entries()) {
    const previous = blocks[index - 1];
    const between = previous ? lines.slice(previous.end + 1, block.line - 1) : [''];
    if (OUTPUT.has(block.lang) && previous && RUNNABLE.has(previous.lang) && between.every((line) => line.trim() === '')) {
      result.at(-1)!.output = withoutEnd(block);
    } else result.push(withoutEnd(block));
  }
  return result;
}

function withoutEnd({ end: _end, ...block }: ReadmeBlock & { end: number }): ReadmeBlock {
  return block;
}

/**
 * The commands of a shell block: continuation lines joined, comment lines and aligned trailing
 * comments (two spaces or more, then `#`) dropped.
 */
export function shellCommands(code: string): string[] {
  const joined = code.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.replace(/\s{2,}#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Whether `actual` is what the README shows: whitespace is ignored and `…` stands for any text.
 * Returns the pattern too, for failure messages.
 */
export function matchesShown(shown: string, actual: string): { ok: boolean; pattern: RegExp } {
  const squeeze = (text: string) => text.replace(/\s+/g, '');
  const pattern = new RegExp(`^${squeeze(shown).split('…').map(escapeRegExp).join('[\\s\\S]*?')}$`);
  return { ok: pattern.test(squeeze(actual)), pattern };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
