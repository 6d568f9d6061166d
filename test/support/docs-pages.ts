/**
 * README.md and docs/*.md as the docs tests read them: their code blocks, their links and the
 * anchors their headings make (as GitHub makes them).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A fenced code block. */
export interface CodeBlock {
  /** The page, relative to the repository root (e.g. "docs/channels.md"). */
  page: string;
  /** The line of its opening fence, from 1. */
  line: number;
  /** The fence's info string: "ts", "js", "sh", "html", … */
  lang: string;
  /** Its text, without the indentation of its fence. */
  text: string;
  /** Why it is not checked, from an HTML comment `<!-- not checked: why -->` right above its fence. */
  notChecked?: string;
}

/** A link or an image in a page's prose. */
export interface Link {
  page: string;
  line: number;
  target: string;
}

export interface DocsPage {
  path: string;
  blocks: CodeBlock[];
  links: Link[];
  /** The anchors its headings make, in order. */
  anchors: string[];
}

/** README.md and every docs/*.md, read now. */
export function docsPages(): DocsPage[] {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...docs].map((path) => readPage(path, readFileSync(join(ROOT, path), "utf8")));
}

const FENCE = /^(\s*)```(\S*)\s*$/;
const NOT_CHECKED = /^\s*<!--\s*not checked:\s*(.*?)\s*-->\s*$/;

/** Reads one page's blocks, links and anchors. */
export function readPage(path: string, markdown: string): DocsPage {
  const lines = markdown.split("\n");
  const page: DocsPage = { path, blocks: [], links: [], anchors: [] };
  const slugs = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const fence = FENCE.exec(lines[i]);
    if (fence) {
      const [, indent, lang] = fence;
      const end = lines.findIndex((line, j) => j > i && line.trimEnd() === `${indent}\`\`\``);
      if (end < 0) throw new Error(`${path}:${i + 1}: a code block that never ends`);
      const text = lines.slice(i + 1, end).map((line) => line.slice(indent.length));
      const notChecked = i > 0 ? NOT_CHECKED.exec(lines[i - 1])?.[1] : undefined;
      page.blocks.push({ page: path, line: i + 1, lang, text: `${text.join("\n")}\n`, notChecked });
      i = end;
      continue;
    }
    const heading = /^#{1,6} (.*)$/.exec(lines[i]);
    if (heading) page.anchors.push(uniqueSlug(slugs, slug(heading[1])));
    const prose = lines[i].replace(/`[^`]*`/g, "");
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src="([^"]+)"/g)) {
      page.links.push({ page: path, line: i + 1, target: match[1] ?? match[2] });
    }
  }
  return page;
}

/** GitHub's anchor for a heading: its text, lowercased, without punctuation, spaces as hyphens. */
export function slug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

function uniqueSlug(seen: Map<string, number>, base: string): string {
  const count = seen.get(base) ?? 0;
  seen.set(base, count + 1);
  return count === 0 ? base : `${base}-${count}`;
}

/** The code block of README.md or docs/*.md whose first line is `firstLine` (e.g. "// app.mjs"), as written. */
export function docsBlock(firstLine: string): string {
  const found = docsPages()
    .flatMap((page) => page.blocks)
    .filter((block) => block.text.startsWith(`${firstLine}\n`));
  if (found.length !== 1) throw new Error(`README.md and docs/ have ${found.length} code blocks starting with ${JSON.stringify(firstLine)}`);
  return found[0].text;
}
