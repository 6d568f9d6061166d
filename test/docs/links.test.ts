/**
 * Every relative link and #anchor in README.md and docs/*.md leads somewhere: a file or folder
 * of the repository, and a heading of the page it names. So does every docs page (and section)
 * a comment in the sources points at: `(docs/presence.md, "Joining storms")`.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, docsPages, readPage, slug } from "../support/docs-pages.js";

/** What is wrong with each link of `pages` that leads nowhere, as "page:line target: why". */
function brokenLinks(pages: ReturnType<typeof docsPages>): string[] {
  const anchorsOf = new Map(pages.map((page) => [page.path, page.anchors]));
  const broken: string[] = [];
  for (const { page, line, target } of pages.flatMap((p) => p.links)) {
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:: not this repository's
    const [file, anchor] = target.split("#", 2) as [string, string | undefined];
    const path = file === "" ? page : normalize(join(dirname(page), decodeURIComponent(file)));
    const where = `${page}:${line} ${target}`;
    if (path.startsWith("..")) broken.push(`${where}: outside the repository`);
    else if (!anchorsOf.has(path) && !existsSync(join(ROOT, path))) broken.push(`${where}: no such file`);
    else if (anchor !== undefined) {
      const anchors = anchorsOf.get(path);
      if (!anchors) broken.push(`${where}: an anchor in a file that is not a checked page`);
      else if (!anchors.includes(anchor)) broken.push(`${where}: no heading makes #${anchor}`);
    }
  }
  return broken;
}

describe("links in README.md and docs/", () => {
  it("all lead to a file of the repository, and to a heading there", () => {
    const pages = docsPages();
    expect(pages.flatMap((page) => page.links).length).toBeGreaterThan(50);
    expect(brokenLinks(pages)).toEqual([]);
  });

  it("are found and judged as GitHub renders them (the check itself)", () => {
    const page = readPage(
      "docs/x.md",
      [
        "# Browser client (`cinder/client`)",
        "## Stored broadcasts: what an `ok` promises",
        "## Bounds",
        "## Bounds",
        "See [here](#browser-client-cinderclient), [there](#stored-broadcasts-what-an-ok-promises),",
        "[the second](#bounds-1), [`code`](#nowhere), ![a picture](images/none.png) and `[not a link](#x)`.",
        "```md",
        "[in a code block](#ignored)",
        "```",
      ].join("\n"),
    );
    expect(page.anchors).toEqual(["browser-client-cinderclient", "stored-broadcasts-what-an-ok-promises", "bounds", "bounds-1"]);
    expect(slug("Presence: joining storms — 10,000 × 1 [link](x.md)")).toBe("presence-joining-storms--10000--1-link");
    expect(brokenLinks([page])).toEqual([
      "docs/x.md:6 #nowhere: no heading makes #nowhere",
      "docs/x.md:6 images/none.png: no such file",
    ]);
  });
});

/** Where a comment in the sources names a docs page, `docs/<page>.md` and maybe `, "<its section>"`. */
function sourcePointers(): Array<{ file: string; page: string; section?: string }> {
  const sources = ["server", "client", "crdt", "bench", "scripts", "test"].flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
      .filter((name) => /\.(ts|mjs)$/.test(name))
      .map((name) => join(dir, name))
      .filter((file) => !file.startsWith(join("test", "docs"))), // these tests' own samples
  );
  return sources.flatMap((file) =>
    [...readFileSync(join(ROOT, file), "utf8").matchAll(/\bdocs\/([a-z0-9-]+\.md)(?:,\s*(?:\*\s*)?"([^"]+)")?/g)].map((match) => ({
      file,
      page: `docs/${match[1]}`,
      section: match[2]?.replace(/\s*\n\s*\*\s*/g, " "),
    })),
  );
}

describe("docs pages the sources point at", () => {
  it("exist, with the section named", () => {
    const anchorsOf = new Map(docsPages().map((page) => [page.path, page.anchors]));
    const pointers = sourcePointers();
    expect(pointers.length).toBeGreaterThan(30);
    const broken = pointers.filter(({ page, section }) => !anchorsOf.has(page) || (section !== undefined && !anchorsOf.get(page)?.includes(slug(section))));
    expect(broken).toEqual([]);
  });
});
