#!/bin/bash
# Boots one matrix guest under QEMU's software emulation (TCG) and runs a
# command there: the repository and the build directory shared at their host
# paths, the build's bpflua on PATH. Exits with the command's status, or 125
# when the guest never reported one (boot failure, timeout).
#   tests/vm/run.sh [--btf visible|hidden] [--headers own|nearest]
#       [--timeout SECONDS] [--keep RUNDIR] KERNEL -- COMMAND...
# KERNEL is a release prefix of a kernel in the image: 5.10, 6.1, ...
# Needs: BPFLUA_VM_CACHE (the image's directory), BPFLUA_VM_BUILD (a build
# directory), both set by ./dev.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${BPFLUA_VM_CACHE:?}
build=${BPFLUA_VM_BUILD:?}
btf=visible headers=own limit=3600 keep=
while [ $# -gt 0 ]; do
	case $1 in
	--btf | --headers | --timeout | --keep)
		[ $# -ge 2 ] || { echo "vm: $1 needs a value" >&2; exit 2; } ;;&
	--btf) btf=$2; shift 2 ;;
	--headers) headers=$2; shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "vm: unknown option $1" >&2; exit 2 ;;
	*) kernel=$1; shift ;;
	esac
done
kernels=$(ls "$cache/kernels" 2>/dev/null | tr '\n' ' ') || true
usage="usage: ./dev.sh vm [--btf visible|hidden] [--headers own|nearest] [--timeout S] KERNEL -- COMMAND... (KERNEL: ${kernels:-none built})"
[ -n "${kernel:-}" ] && [ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
case $btf in visible | hidden) ;; *) echo "vm: --btf is visible or hidden, not $btf" >&2; exit 2 ;; esac
case $headers in own | nearest) ;; *) echo "vm: --headers is own or nearest, not $headers" >&2; exit 2 ;; esac
case $limit in '' | *[!0-9]*) echo "vm: --timeout takes seconds, not $limit" >&2; exit 2 ;; esac

# "5.10" names 5.10.0-32-amd64, but "6.1" must not name 6.10
matches=()
for k in "$cache"/kernels/*/; do
	k=$(basename "$k")
	case $k in "$kernel" | "$kernel".* | "$kernel"-*) matches+=("$k") ;; esac
done
[ ${#matches[@]} = 1 ] || { echo "vm: kernel '$kernel' matches ${#matches[@]} kernels; $usage" >&2; exit 2; }
kdir=$cache/kernels/${matches[0]}

run=${keep:-$(mktemp -d "$cache/run.XXXXXX")}
mkdir -p "$run"
[ -n "$keep" ] || trap 'rm -rf "$run"' EXIT
rm -f "$run/status" "$run/boot-seconds" "$run/cmd-seconds"
echo "$repo" >"$run/repo"
echo "$build" >"$run/build"
echo "$btf" >"$run/btf"
echo "$headers" >"$run/headers"
printf '%q ' "$@" >"$run/cmd"
echo >>"$run/cmd"

# A guest kernel stuck for a minute is not coming back: it panics (and
# QEMU exits) instead of holding the run until --timeout, and the log keeps
# the soft lockup's report. A minute, not the default 20 s: under emulation
# on a busy host a healthy vCPU can stall for a while.
lockup="softlockup_panic=1 watchdog_thresh=30"

# one guest at a time: the host has two cores, and the guest takes both
exec 9>"$cache/qemu.lock"
flock 9
# TCG, not KVM: KVM guests hang on this host. The root image is read-only
# (snapshot=on); every boot starts from the same clean image. The console
# goes through unbuffered (sed -u), so a log read mid-run is up to date.
set +e
timeout -k 10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 \
	-display none -monitor none -serial stdio -no-reboot \
	-kernel "$kdir/vmlinuz" -initrd "$kdir/initrd" \
	-drive "file=$cache/root.img,format=raw,if=virtio,snapshot=on" \
	-virtfs "local,path=$run,mount_tag=vm,security_model=none" \
	-virtfs "local,path=$repo,mount_tag=repo,security_model=none" \
	-virtfs "local,path=$build,mount_tag=build,security_model=none" \
	-append "console=ttyS0 root=/dev/vda rw quiet loglevel=1 panic=-1 $lockup init=/sbin/bpflua-vm-init" \
	</dev/null | sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: Power down$/d'
rc=${PIPESTATUS[0]}
set -e
exec 9>&-
if [ ! -s "$run/status" ]; then
	[ "$rc" = 124 ] && echo "vm: guest $kernel timed out after $limit s" >&2 ||
		echo "vm: guest $kernel stopped (qemu status $rc) without reporting a status" >&2
	exit 125
fi
exit "$(cat "$run/status")"
