# Shared by bench scripts: a scratch directory and the background jobs
# (their pids in $pids), both gone when the script ends however it ends.
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
