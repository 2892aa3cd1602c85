#!/usr/bin/env bash
# Run apt-get or apt-cache against another Debian suite (bookworm-backports,
# unstable, ...) through a private apt state under build/apt/<suite>/, so
# that the host's sources, lists and dpkg database stay as they are.  The
# archive is the one this machine's own apt sources name, so no mirror is
# written anywhere.  Only downloads happen here (apt-get download, apt-get
# source --download-only, or apt-get source for a source package); nothing
# is ever installed from another suite.
#
# SUITE may name an architecture, as SUITE:ARCH (bookworm:arm64): its
# packages come through a state of their own, and the host's dpkg
# architectures stay as they are.
#
# usage: apt-suite.sh SUITE apt-get|apt-cache ARGS...
#        apt-suite.sh SUITE update      (refresh the suite's index; done
#                                        automatically once a day)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:?usage: apt-suite.sh SUITE apt-get|apt-cache|update ARGS...}
tool=${2:?usage: apt-suite.sh SUITE apt-get|apt-cache|update ARGS...}
shift 2
arch=""
case "$suite" in
*:*) arch=${suite#*:}; suite=${suite%%:*} ;;
esac
state=${DMALAB_BUILD:-$top/build}/apt/$suite${arch:+-$arch}

# The Debian archive of this machine: the URI of its "bookworm" entry.
archive_uri() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
                   /(^|\n)Suites:[^\n]*bookworm([ \t\n]|$)/ &&
                   /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ {
                       for (i = 1; i <= NF; i++)
                           if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i);
                               split($i, u, " "); print u[1]; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        uri=$(awk '$1 == "deb" && $0 ~ / bookworm( |$)/ {
                       for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {
                           print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    return 1
}

apt_opts=(
    -o "Dir::State=$state/state"
    -o "Dir::State::status=$state/status"
    -o "Dir::Cache=$state/cache"
    -o "Dir::Etc::SourceList=$state/sources.list"
    -o "Dir::Etc::SourceParts=$state/sources.list.d"
    -o "Dir::Etc::Preferences=$state/preferences"
    -o "Dir::Etc::PreferencesParts=$state/preferences.d"
    -o "APT::Get::List-Cleanup=0"
    -o "Debug::NoLocking=1"
)
if [ -n "$arch" ]; then
    apt_opts+=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
fi

setup() {
    local uri
    [ -f "$state/sources.list" ] && return
    uri=$(archive_uri) || {
        echo "apt-suite: no Debian bookworm entry in this machine's apt sources" >&2
        exit 1
    }
    mkdir -p "$state"/state/lists/partial "$state"/cache/archives/partial \
        "$state"/sources.list.d "$state"/preferences.d
    : >"$state/status"
    : >"$state/preferences"
    cat >"$state/sources.list.tmp" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main
EOF
    mv "$state/sources.list.tmp" "$state/sources.list"
}

update() {
    echo "apt-suite: updating the $suite index" >&2
    apt-get "${apt_opts[@]}" -q update >"$state/update.log" 2>&1 || {
        cat "$state/update.log" >&2
        exit 1
    }
    touch "$state/updated"
}

# apt's own locks are off (Debug::NoLocking: the state is private), so one
# run at a time sets the state up and updates it.
mkdir -p "$(dirname "$state")"
exec 4>"$state.lock"
flock 4
setup
if [ "$tool" = update ]; then
    update
    exit 0
fi
if [ ! -f "$state/updated" ] ||
    [ -n "$(find "$state/updated" -mmin +1440 2>/dev/null)" ]; then
    update
fi
flock -u 4
case "$tool" in
apt-get|apt-cache) exec "$tool" "${apt_opts[@]}" "$@" ;;
*) echo "apt-suite: runs apt-get or apt-cache, not '$tool'" >&2; exit 2 ;;
esac
