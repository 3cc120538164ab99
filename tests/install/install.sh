#!/bin/bash
# `cmake --install` into a DESTDIR, then the installed bpflua run from
# another directory: it must find its Lua library, probes and tracers
# beside itself (not the source tree), count a workload's calls exactly and
# run a tracer. Then what ships beside it, each checked by the tool made
# for it: the systemd unit (systemd-analyze verify), the Prometheus config
# (promtool check config), the DaemonSet (YAML and its fields), the man page
# (groff's warnings) and the bash completion.
#   BPFLUA_BUILD_DIR: the configured build tree to install from
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
src=$(cd "$here/../.." && pwd)
build=${BPFLUA_BUILD_DIR:?set BPFLUA_BUILD_DIR to the build tree}
unset BPFLUA_DATA_DIR

dest=$tmp/dest
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR=$dest cmake --install "$build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; bad "cmake --install"; finish install; }
root=$dest$prefix
bin=$root/bin/bpflua
for f in bin/bpflua share/bpflua/lua/bpflua/init.lua share/bpflua/lua/bpflua/otlp.lua \
	share/bpflua/probes/syscount.c share/bpflua/scripts/syscount.lua share/man/man1/bpflua.1 \
	share/bash-completion/completions/bpflua lib/systemd/system/bpflua.service; do
	check "installed: $f" test -f "$root/$f"
done
check "nothing of the build or the tests installed" test -z "$(find "$dest" -name '*.o' -o -name 'CMake*' -o -name 'test_*')"

# from another directory, with the source tree out of sight of its paths
cd "$tmp"
expect 0 "^$root/share/bpflua/scripts $root/share/bpflua/probes\$" \
	"$bin" -e "print(BPF.scripts_dir .. ' ' .. BPF.probes_dir)"

# a one-liner counts a workload of its own exactly
NAME=bl_inst$$
cp "$BPFLUA_WORKLOAD" "$tmp/$NAME"
"$bin" -e 'count{"t:syscalls:sys_enter_getppid", by="comm"}' -d 3 >"$tmp/count.out" 2>"$tmp/count.err" &
bp=$!
wait_for "$tmp/count.err" Attached || bad "the installed one-liner did not attach"
"$tmp/$NAME" getppid 3000 >/dev/null
n=$((n + 1))
wait "$bp" || bad "the installed one-liner failed: $(cat "$tmp/count.err")"
check "the installed one-liner counts 3000 getppid calls" grep -qx "@\[$NAME\]: 3000" "$tmp/count.out"
expect 0 "^SYSCALL +COUNT" "$bin" run syscount -d 1
expect 0 "^syscount " "$bin" list

# a tree others may write is not trusted: the binary falls back to the one
# it was built from
chmod g+w "$root/share/bpflua/scripts"
expect 0 "^$src/scripts\$" "$bin" -e 'print(BPF.scripts_dir)'
chmod g-w "$root/share/bpflua/scripts"

# the systemd unit, with its ExecStart pointed into the DESTDIR (where the
# binary is until a real install); systemd-analyze warns about unknown keys
# without failing, so any word from it is a failure too
unit=$root/lib/systemd/system/bpflua.service
check "the unit runs the installed binary" grep -qx "ExecStart=$prefix/bin/bpflua agent --config .*" "$unit"
sed "s|^ExecStart=$prefix/bin/bpflua|ExecStart=$bin|" "$unit" >"$tmp/bpflua.service"
n=$((n + 1))
if ! MANPATH=$root/share/man systemd-analyze verify "$tmp/bpflua.service" >"$tmp/verify.out" 2>&1 ||
	[ -s "$tmp/verify.out" ]; then
	bad "systemd-analyze verify bpflua.service:"
	cat "$tmp/verify.out"
fi
# and the check is real: a misspelt key is reported
sed 's/^NoNewPrivileges=/NoNewPrivilege=/' "$tmp/bpflua.service" >"$tmp/typo.service"
MANPATH=$root/share/man systemd-analyze verify "$tmp/typo.service" >"$tmp/verify.out" 2>&1
check "systemd-analyze reports a misspelt key" grep -q "Unknown key" "$tmp/verify.out"

# Prometheus's scrape config, and promtool refusing a broken one
expect 0 SUCCESS promtool check config "$root/share/doc/bpflua/examples/prometheus.yml"
sed 's/scrape_interval: 15s/scrape_interval: 15 seconds/' "$src/packaging/prometheus.yml" >"$tmp/bad.yml"
expect 1 FAILED promtool check config "$tmp/bad.yml"

# the DaemonSet, and the Prometheus job that finds its pods
n=$((n + 1))
python3 "$here/check_daemonset.py" "$root/share/doc/bpflua/examples/daemonset.yaml" \
	"$root/share/doc/bpflua/examples/prometheus.yml" || bad "the DaemonSet manifest"

# the man page: no warning from groff, and it names every command
n=$((n + 1))
groff -z -w all -man "$root/share/man/man1/bpflua.1" >"$tmp/groff.out" 2>&1
[ -s "$tmp/groff.out" ] && { bad "groff -w all warns about bpflua.1:"; cat "$tmp/groff.out"; }
for c in run list doctor cache agent; do
	check "the man page documents $c" grep -q "^\.B.* $c\b\|^\.B $c\$\|^\.BI \"$c " "$root/share/man/man1/bpflua.1"
done
check "the man page names the installed data directory" grep -q "^\.I $prefix/share/bpflua/\$" "$root/share/man/man1/bpflua.1"

# bash completion: commands, tracer names from the installed binary, options
complete_words() { # the words completed for the command line "$@" (last word: the one being completed)
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _bpflua; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$root/share/bash-completion/completions/bpflua" "$@"
}
check "completion: commands" test "$(complete_words "$bin" do)" = doctor
check "completion: tracers" test "$(complete_words "$bin" run sys)" = syscount
check "completion: a tracer's options" test "$(complete_words "$bin" run syscount --lat)" = --latency

finish install
