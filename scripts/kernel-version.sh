#!/usr/bin/env bash
# Print the package name of the kernel that linux-image-amd64 currently
# depends on (for example linux-image-6.1.0-42-amd64).  Nothing is pinned:
# the archive's current ABI is used.
set -euo pipefail
apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1 |
    grep . || { echo "kernel-version: cannot resolve linux-image-amd64" >&2; exit 1; }
