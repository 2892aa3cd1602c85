#!/usr/bin/env python3
"""Convert docs/spec.md to reStructuredText, QEMU's documentation format,
for the upstream patch series (scripts/qemu-patches.sh).

usage: md2rst.py SPEC.md > dmalab.rst

It knows the Markdown the spec is written in, no more: ATX headings,
paragraphs, "-" and "1." lists, fenced code blocks, pipe tables, inline
code, bold, italics and links.  Tables become list-tables, so that no cell
width has to be drawn.
"""

import re
import sys

# Heading levels, in the order QEMU's docs/specs pages use them.
UNDERLINES = {1: "=", 2: "-", 3: "~", 4: "^"}


def plain(text):
    """Markdown markup outside code spans, to reST."""
    text = text.replace("\\|", "|").replace("|", "\\|")
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"`\1 <\2>`__", text)
    # reST would read these as markup starts.
    text = re.sub(r"(?<=\s)([*_])(?=\s)", r"\\\1", text)
    return text


def inline(text):
    """Inline markup to reST.  Code spans become literals; reST wants inline
    markup set off from surrounding word characters, so an escaped space
    joins them where Markdown had none."""
    out = ""
    # reST cannot nest markup: bold code is code.
    text = re.sub(r"\*\*(`[^`]+`)\*\*", r"\1", text)
    parts = re.split(r"(`[^`]+`)", text)
    for k, p in enumerate(parts):
        if k % 2 == 1:
            lit = "``%s``" % p[1:-1]
            if out and not re.match(r"[\s'\"(\[{</:-]", out[-1]):
                out += "\\ "
            out += lit
            nxt = parts[k + 1] if k + 1 < len(parts) else ""
            if nxt and not re.match(r"[\s\-.,:;!?/'\")\]}>]", nxt[0]):
                out += "\\ "
        else:
            out += plain(p)
    return out


def table_rows(lines):
    rows = []
    for line in lines:
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        cells = [c.strip() for c in cells]
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            continue
        rows.append(cells)
    return rows


def convert(md):
    out = []
    lines = md.splitlines()
    i = 0
    list_indent = -1
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(#{1,4}) (.*)$", line)
        if m:
            title = inline(m.group(2).strip())
            if out and out[-1] != "":
                out.append("")
            out += [title, UNDERLINES[len(m.group(1))] * max(len(title), 3), ""]
            i += 1
            continue
        if line.startswith("```"):
            i += 1
            block = []
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            i += 1
            if out and out[-1] != "":
                out.append("")
            out += ["::", ""]
            out += ["   " + b if b else "" for b in block]
            out.append("")
            continue
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            rows = table_rows(block)
            width = max(len(r) for r in rows)
            if out and out[-1] != "":
                out.append("")
            out += [".. list-table::", "   :header-rows: 1", ""]
            for r in rows:
                r = r + [""] * (width - len(r))
                out.append(("   * - " + inline(r[0])).rstrip())
                for c in r[1:]:
                    out.append(("     - " + inline(c)).rstrip())
            out.append("")
            continue
        m = re.match(r"^(\s*)([*-]|\d+\.) (.*)$", line)
        if m:
            # A list item.  reST wants a blank line where a nested list
            # starts or ends, which Markdown does without.
            indent = len(m.group(1))
            if out and out[-1] != "" and indent != list_indent:
                out.append("")
            list_indent = indent
            out.append(m.group(1) + m.group(2) + " " + inline(m.group(3)))
            i += 1
            continue
        if not line.strip():
            list_indent = -1
        out.append(inline(line) if line.strip() else "")
        i += 1
    return "\n".join(out).rstrip() + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(convert(f.read()))


if __name__ == "__main__":
    main()
