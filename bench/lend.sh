#!/bin/bash
# lend.sh FARM COMMAND...: runs COMMAND in a private mount namespace where
# /lib/modules/$(uname -r)/build is FARM (the header tree bpflua found), for
# tools that look nowhere else. The host's /lib/modules is not changed.
set -euo pipefail
farm=$1
shift
release=$(uname -r)
if [ -e "/lib/modules/$release/build" ]; then exec "$@"; fi
links=""
for b in /lib/modules/*/build; do
	[ -e "$b" ] && links="$links $(basename "$(dirname "$b")")=$(readlink -f "$b")"
done
# exec all the way down: COMMAND keeps this pid, so callers can watch it
exec "$(dirname "$0")/../tests/tools/private_ns.sh" sh -c '
	mount -t tmpfs bpflua-bench /lib/modules
	for l in '"$links"'; do mkdir -p "/lib/modules/${l%%=*}"; ln -s "${l#*=}" "/lib/modules/${l%%=*}/build"; done
	mkdir -p "/lib/modules/'"$release"'"; ln -s "'"$farm"'" "/lib/modules/'"$release"'/build"
	exec "$@"' sh "$@"
