#!/usr/bin/env bash
# Render the docs' diagrams: docs/diagrams/NAME.dot -> docs/img/NAME.svg,
# with Debian's graphviz (scripts/install-deps.sh installs it).
#
# usage: scripts/diagrams.sh [--check]
#   --check  render into a scratch directory and fail (listing them) if any
#            SVG in docs/img says other things than its source renders to
#            now: its nodes, edges and every text, in order.  Coordinates
#            are left out, since they follow the machine's font metrics.
set -euo pipefail

# What an SVG says, without where: its titles and texts, one per line.
svg_words() {
    grep -oE '<(title|text)[^>]*>[^<]*</(title|text)>' "$1" |
        sed -E 's/<[^>]*>//g'
}

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/docs/diagrams
out=$top/docs/img
check=0
[ "${1:-}" = --check ] && check=1

if ! command -v dot >/dev/null; then
    echo "diagrams: graphviz's dot is missing (scripts/install-deps.sh installs it)" >&2
    exit 2
fi
if [ "$check" = 1 ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
stale=()
for dot_file in "$src"/*.dot; do
    name=$(basename "$dot_file" .dot)
    dot -Tsvg "$dot_file" -o "$out/$name.svg"
    if [ "$check" = 1 ] && { [ ! -f "$top/docs/img/$name.svg" ] ||
        ! cmp -s <(svg_words "$out/$name.svg") <(svg_words "$top/docs/img/$name.svg"); }; then
        stale+=("docs/img/$name.svg")
    fi
done
if [ ${#stale[@]} -gt 0 ]; then
    echo "diagrams: out of date with their sources: ${stale[*]} (run scripts/diagrams.sh)" >&2
    exit 1
fi
