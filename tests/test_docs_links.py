"""Every relative link in the README and docs/ leads somewhere: to a file or folder of the
repository and, with a `#anchor`, to a heading of the page it names (GitHub's slugs)."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
# [text](target) or [text](target "title"), images (![alt](src)) too; text may hold code spans
# and one level of brackets.
LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^()\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, https:, mailto:, ...


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase; only letters, digits, spaces, hyphens and
    underscores kept; each space a hyphen. (Duplicates: see `anchors`.)"""
    text = re.sub(r"<[^>]+>", "", heading).lower()  # inline HTML (a comment, a tag) is not text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip()[len(opened.group(1)):]:
                fence = None
        else:
            lines.append((number, line))
    return lines


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, a repeated one numbered -1, -2, ... as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(page.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each inline code span: a run of n backticks up to the next run of exactly
    n in the same paragraph."""
    spans, runs, index = [], list(re.finditer(r"`+", text)), 0
    while index < len(runs):
        opening = runs[index]
        closing = next((j for j in range(index + 1, len(runs)) if len(runs[j].group()) == len(opening.group())
                        and "\n\n" not in text[opening.end():runs[j].start()]), None)
        if closing is None:
            index += 1
            continue
        spans.append((opening.start(), runs[closing].end()))
        index = closing + 1
    return spans


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link outside code (fenced blocks and code spans)."""
    prose = _prose_lines(page.read_text())
    text = "\n".join(line for _, line in prose)
    line_starts = [0]
    for _, line in prose:
        line_starts.append(line_starts[-1] + len(line) + 1)
    spans = _code_spans(text)
    found = []
    for match in LINK.finditer(text):
        bracket = match.start() + len(match.group(1)) + 1  # the "](" that makes it a link
        if any(start <= bracket < end or start <= match.start() < end for start, end in spans):
            continue
        target = match.group(2)
        if not target or EXTERNAL.match(target):
            continue
        line_index = max(i for i, start in enumerate(line_starts[:-1]) if start <= match.start())
        found.append((prose[line_index][0], target))
    return found


def broken(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each broken link of `page` (a page of `root`), one line each."""
    problems = []
    for line, target in links(page):
        path, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{line}: ({target})"
        destination = (page.parent / unquote(path)).resolve() if path else page.resolve()
        if not destination.exists():
            problems.append(f"{where}: {path} does not exist")
            continue
        if not destination.is_relative_to(root.resolve()):
            problems.append(f"{where}: {path} is outside the repository")
            continue
        if anchor:
            if destination.suffix != ".md":
                problems.append(f"{where}: #{anchor} on a file that is not Markdown")
            elif unquote(anchor) not in anchors(destination):
                problems.append(f"{where}: no heading of {destination.relative_to(root.resolve())} has the anchor #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_lead_to_files_and_headings(page):
    problems = broken(page)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_docs_have_pages_and_the_readme_links_every_one():
    readme_targets = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(ROOT / "README.md")}
    docs = [page for page in PAGES if page.parent.name == "docs"]
    assert docs, "docs/ holds no page"
    unlinked = [page.name for page in docs if page.resolve() not in readme_targets]
    assert not unlinked, f"README.md links no docs page named {unlinked}"


@pytest.mark.parametrize("heading, slug", [
    ("Metrics (`metrics/pgan.json`)", "metrics-metricspganjson"),
    ("Degradations (`degrade_ffhq`, `facegan degrade`)", "degradations-degrade_ffhq-facegan-degrade"),
    ("bf16 and torch.compile on the CPU, at the sample's sizes", "bf16-and-torchcompile-on-the-cpu-at-the-samples-sizes"),
    ("Training throughput: 1 vs 2 processes, the batch loader", "training-throughput-1-vs-2-processes-the-batch-loader"),
    ("Where a command writes: `--out`", "where-a-command-writes---out"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_repeated_headings_are_numbered(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Notes\n\n## Usage\n\n```\n## Usage\n```\n\n## Usage\n\n### Usage\n")
    assert anchors(page) == {"notes", "usage", "usage-1", "usage-2"}


def test_a_broken_link_or_anchor_is_named(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Known heading\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[ok](other.md#known-heading) [self](#page) [web](https://example.com)\n"
                    "`[code](missing.md)` and [gone](missing.md)\n\n```\n[fenced](missing.md)\n```\n"
                    "[bad anchor](other.md#unknown) [bad self](#nowhere)\n")
    problems = broken(page, tmp_path)
    assert problems == [
        "page.md:4: (missing.md): missing.md does not exist",
        "page.md:9: (other.md#unknown): no heading of other.md has the anchor #unknown",
        "page.md:9: (#nowhere): no heading of page.md has the anchor #nowhere",
    ], problems
