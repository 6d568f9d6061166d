/**
 * The import graph of a source folder, and its circles. Every import counts, type-only ones
 * included: `import`, `import type`, `export … from`, `import x = require(…)`, `import("…")` calls
 * and `import("…")` types. Only relative specifiers are followed, and only to files inside the
 * folder; the compiler's parser reads the files, so imports inside comments and strings do not count.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

/** Files that import each other, directly or through others: a strongly connected part of the graph. */
export interface ImportCircle {
  /** The files of the circle, relative to the folder, sorted. */
  files: string[];
  /** Every import between two files of the circle, as "from → to", sorted. */
  imports: string[];
}

const SOURCE_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts"];
/** What an import written with a JavaScript extension names in the TypeScript sources. */
const SOURCE_OF: Record<string, string[]> = { ".js": [".ts", ".tsx"], ".jsx": [".tsx"], ".mjs": [".mts"], ".cjs": [".cts"] };

/** Each source file under `dir` (relative, `/`-separated) and the files under `dir` it imports. */
export function importGraph(dir: string): Map<string, Set<string>> {
  const root = resolve(dir);
  const files = new Set(sourceFiles(root));
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const specifier of importSpecifiers(file)) {
      const target = resolveImport(specifier, file);
      if (target && files.has(target)) targets.add(toKey(root, target));
    }
    graph.set(toKey(root, file), targets);
  }
  return graph;
}

/** The import circles under `dir`; empty when the files depend on each other one way only. */
export function importCircles(dir: string): ImportCircle[] {
  return graphCircles(importGraph(dir));
}

/** The circles of any graph of the same shape (files, or the folders they stand in); each node must be a key. */
export function graphCircles(graph: Map<string, Set<string>>): ImportCircle[] {
  return stronglyConnected(graph)
    .filter((part) => part.length > 1 || graph.get(part[0])!.has(part[0]))
    .map((part) => {
      const files = [...part].sort();
      const imports = files.flatMap((from) => [...graph.get(from)!].filter((to) => part.includes(to)).map((to) => `${from} → ${to}`));
      return { files, imports: imports.sort() };
    })
    .sort((a, b) => a.files[0].localeCompare(b.files[0]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" ? [] : sourceFiles(path);
    return isSource(path) ? [path] : [];
  });
}

function isSource(path: string): boolean {
  return SOURCE_EXTENSIONS.includes(extname(path)) && !/\.d\.[cm]?ts$/.test(path);
}

function toKey(root: string, file: string): string {
  return relative(root, file).split(sep).join("/");
}

/** The module specifiers `file` imports from, in any of the forms the header lists. */
function importSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const add = (node: ts.Node | undefined): void => {
    if (node && ts.isStringLiteralLike(node)) specifiers.push(node.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isExternalModuleReference(node)) add(node.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** The source file a relative specifier names (`./x.js` is `./x.ts`, a folder is its index), or null. */
function resolveImport(specifier: string, from: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const path = resolve(dirname(from), specifier);
  const ext = extname(path);
  const candidates = [
    path,
    ...(SOURCE_OF[ext] ?? []).map((sourceExt) => path.slice(0, -ext.length) + sourceExt),
    ...SOURCE_EXTENSIONS.map((sourceExt) => path + sourceExt),
    ...SOURCE_EXTENSIONS.map((sourceExt) => join(path, `index${sourceExt}`)),
  ];
  return candidates.find((candidate) => isSource(candidate) && existsSync(candidate) && statSync(candidate).isFile()) ?? null;
}

/** Tarjan's algorithm: the graph's strongly connected parts, each a list of nodes. */
function stronglyConnected(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const parts: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, index.size);
    lowLink.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)!) {
      if (!index.has(next)) {
        connect(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) !== index.get(node)) return;
    const part: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      part.push(member);
    } while (member !== node);
    parts.push(part);
  };
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return parts;
}
