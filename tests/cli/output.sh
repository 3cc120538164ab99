#!/bin/bash
# Where reports go: -o never harms what is at PATH, a failed write is an
# error with a non-zero exit, and nothing half-written or temporary stays.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

run() { "$BPFLUA" run syscount -d 0.3 "$@"; }
entries() { ls -A "$1" | sort; }

# devices are written through, and stay devices. The test makes its own
# null and full devices and its own link to stdout: a tracer that replaced
# them must not take the host's /dev with it.
mknod "$tmp/null" c 1 3
mknod "$tmp/full" c 1 7
ln -s /proc/self/fd/1 "$tmp/stdout"
expect 0 "" run -o "$tmp/null"
check "null is still a character device" test -c "$tmp/null"
expect 1 "cannot write $tmp/full: No space left on device" run -o "$tmp/full"
check "full is still a character device" test -c "$tmp/full"

# a link to stdout (the pipe here) is written through
n=$((n + 1))
run -o "$tmp/stdout" 2>/dev/null | cat >"$tmp/piped"
grep -q '^SYSCALL' "$tmp/piped" || bad "-o stdout: nothing came through the pipe"
check "stdout is still a link" test -L "$tmp/stdout"

# a FIFO gets the report and stays a FIFO
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/from-fifo" &
reader=$!
expect 0 "" run -o "$tmp/fifo"
wait $reader
check "the FIFO's reader got the report" grep -q '^SYSCALL' "$tmp/from-fifo"
check "the FIFO is still a FIFO" test -p "$tmp/fifo"

# a regular file is replaced whole, keeping its mode and owner
mkdir "$tmp/d"
echo "old report" >"$tmp/d/report"
chmod 600 "$tmp/d/report"
chown nobody "$tmp/d/report"
expect 0 "" run -o "$tmp/d/report"
check "the report replaced the file" grep -q '^SYSCALL' "$tmp/d/report"
n=$((n + 1))
[ "$(stat -c '%a %U' "$tmp/d/report")" = "600 nobody" ] || bad "mode/owner not kept: $(stat -c '%a %U' "$tmp/d/report")"
n=$((n + 1))
[ "$(entries "$tmp/d")" = "report" ] || bad "left in the directory: $(entries "$tmp/d")"

# a new file appears only when the run ends well
expect 2 "unknown option" run -o "$tmp/d/new" --bogus
check "no file after a usage error" test ! -e "$tmp/d/new"
expect 0 "" run -o "$tmp/d/new"
check "the new report" grep -q '^SYSCALL' "$tmp/d/new"

# a link to a regular file: written through, the link stays a link
ln -s "$tmp/d/report" "$tmp/link"
expect 0 "" run -o "$tmp/link"
check "the link is still a link" test -L "$tmp/link"
check "its target got the report" grep -q '^SYSCALL' "$tmp/d/report"

# a directory is refused before anything runs or is created
before=$(entries "$tmp"; entries /)
expect 1 "cannot write to $tmp/d: Is a directory" run -o "$tmp/d"
expect 1 "cannot write to $tmp/d/: Is a directory" run -o "$tmp/d/"
expect 1 "No such file or directory" run -o "$tmp/nodir/report"
n=$((n + 1))
[ "$before" = "$(entries "$tmp"; entries /)" ] || bad "-o DIR left something behind"

# write errors: stdout on a full device, scripts' print() included
expect 1 "cannot write to standard output: No space left on device" sh -c "'$BPFLUA' run syscount -d 0.3 >'$tmp/full'"
expect 1 "cannot write to standard output" sh -c "'$BPFLUA' -e 'print(\"x\")' >'$tmp/full'"

# -o on a full filesystem: the old report stays as it was, no temporary.
# A 64 KB tmpfs over /dev/shm in a private mount namespace (/dev, not /: in a
# chroot / is no mount point and cannot be made private).
unshare -m --propagation unchanged bash -c '
	mount --make-rprivate /dev && mount -t tmpfs -o size=64k none /dev/shm || exit 1
	echo "old report" >/dev/shm/report
	dd if=/dev/zero of=/dev/shm/filler bs=4k 2>/dev/null
	"$2" run syscount -d 0.3 -o /dev/shm/report >"$1/full.out" 2>&1
	echo "rc=$?" >>"$1/full.out"
	cat /dev/shm/report >"$1/full.report"
	ls -A /dev/shm >"$1/full.ls"' bash "$tmp" "$BPFLUA"
n=$((n + 1))
grep -q "cannot replace /dev/shm/report: No space left on device\|cannot write /dev/shm/report: No space left on device" "$tmp/full.out" &&
	grep -q "rc=1" "$tmp/full.out" || { bad "-o on a full filesystem:"; cat "$tmp/full.out"; }
check "the old report is untouched" grep -qx "old report" "$tmp/full.report"
n=$((n + 1))
[ "$(tr '\n' ' ' <"$tmp/full.ls")" = "filler report " ] || bad "left on the full filesystem: $(cat "$tmp/full.ls")"

finish "cli output"
