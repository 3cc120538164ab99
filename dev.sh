#!/bin/bash
# Set-up, build, run and test bpflua on Debian 12, as root.
#   ./dev.sh run [TRACER ARGS...]   install what is missing, build, run (default: syscount -d 5)
#   ./dev.sh test                   install what is missing, build with ASan/UBSan, run every test
#   ./dev.sh build                  build only
#   ./dev.sh test-kernels           the suite in QEMU guests of other kernels (tests/vm/)
#   ./dev.sh vm KERNEL -- CMD...    boot one such guest (KERNEL: 5.10, 6.1) and run CMD there
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages and why each is here:
#   libbpfcc-dev   libbcc: compiles BPF C (through LLVM) and loads/attaches it (libbcc_bpf)
#   liblua5.4-dev  the Lua 5.4 that runs tracers and scripts
#   libelf-dev     ELF reading, used by libbcc's symbolization
#   libjson-c-dev  JSON: reads libbcc's type descriptions (output JSON is written by lua/json.c)
#   libedit-dev    line editing, history and completion in the REPL
#   nettle-dev     SHA-256 for the compiled-program cache (keys and checksums)
#   linux-headers-amd64  a kernel header tree for BPF C when the running kernel has none
#   libarchive-dev unpacks /sys/kernel/kheaders.tar.xz on kernels that carry their headers
#   zlib1g-dev     reads /proc/config.gz (why a kprobe is missing)
#   libcapstone-dev  x86 disassembly: where an entry uprobe can skip the kernel's single step
#   cmake gcc make pkg-config  the build
#   libcmocka-dev  C unit tests (test only)
#   util-linux     unshare/setpriv for the no-BTF and no-privilege tests (test only)
#   python3        parses the tracers' JSON and SVG output in tests (test only)
#   python3-grpcio a gRPC server and client for the http tracer's test (test only)
#   openssl        a throwaway certificate for the HTTPS test (test only)
#   xz-utils       makes a kheaders.tar.xz for the header-tree unit test (test only)
#   libcurl4-openssl-dev  OTLP/HTTP export without blocking (libcurl's multi interface)
#   nodejs npm     the OTLP test's receiver: protobufjs reads the official OTLP .proto files (test only;
#                  npm only where no npm is there yet: a Node.js that ships its own conflicts with it)
#   prometheus     a real Prometheus scraping the agent, promtool checks its output and packaging/ (test only)
#   python3-yaml groff-base systemd man-db  check packaging/ (man-db: systemd-analyze verify reads Documentation=man:): promtool, the DaemonSet's YAML, the man page (test only)
#   strace bpftrace  referees: strace -f for syscount, execsnoop and opensnoop; bpftrace for one-liners (test only)
#   nftables       drops a test port on lo for a moment, so tcpretrans sees retransmits (test only)
#   python3-bpfcc  BCC itself, beside bpflua on the same uprobes (test only)
#   systemtap-sdt-dev  <sys/sdt.h> for the USDT test programs (test only)
#   libmicrohttpd-dev  the agent's HTTP server (/metrics, /debug/pprof)
#   libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev  pprof profiles:
#                  protobuf-c code generated at build time from google/pprof's profile.proto
#   golang-go      go tool pprof reads the agent's profiles (test only)
#   curl           fetches the agent's endpoints in its tests (test only)
RUN_PKGS="libbpfcc-dev liblua5.4-dev libelf-dev libcapstone-dev libjson-c-dev libedit-dev nettle-dev libarchive-dev zlib1g-dev linux-headers-amd64 cmake gcc make pkg-config libc6-dev libcurl4-openssl-dev libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev"
TEST_PKGS="libcmocka-dev util-linux procps python3 python3-grpcio openssl xz-utils nodejs prometheus python3-yaml groff-base systemd strace nftables python3-bpfcc systemtap-sdt-dev golang-go curl bpftrace man-db"
#   qemu-system-x86 debootstrap  boot the kernel matrix's guests and build their root (vm only)
VM_PKGS="qemu-system-x86 debootstrap e2fsprogs"
command -v npm >/dev/null 2>&1 || TEST_PKGS="$TEST_PKGS npm"

install_missing() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "dev.sh: missing packages ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "dev.sh: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # $1 build dir, then cmake options
	local dir=$1; shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" >/dev/null
}

# the kernel matrix: a guest image cached outside the repository (built once,
# rebuilt when tests/vm/image.sh or the package lists change) and a plain
# RelWithDebInfo test build the guests share with this host
vm_prepare() {
	install_missing $RUN_PKGS $TEST_PKGS $VM_PKGS
	export BPFLUA_VM_CACHE=${BPFLUA_VM_CACHE:-/var/tmp/bpflua-vm}
	export BPFLUA_VM_BUILD=$BPFLUA_VM_CACHE/build-$(pwd | sha256sum | cut -c1-8)
	RUN_PKGS=$RUN_PKGS TEST_PKGS=$TEST_PKGS tests/vm/image.sh "$BPFLUA_VM_CACHE"
	build "$BPFLUA_VM_BUILD" -DBUILD_TESTING=ON
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
	install_missing $RUN_PKGS
	build build -DBUILD_TESTING=OFF
	if [ $# -eq 0 ]; then set -- syscount -d 5; fi
	exec build/bpflua run "$@"
	;;
build)
	install_missing $RUN_PKGS
	build build -DBUILD_TESTING=OFF
	;;
test)
	install_missing $RUN_PKGS $TEST_PKGS
	build build-test -DBPFLUA_SANITIZE=ON -DBUILD_TESTING=ON
	cd build-test
	exec ctest --output-on-failure -j"$(nproc)"
	;;
test-kernels)
	vm_prepare
	# the host row is `./dev.sh test`'s own run: the ASan/UBSan build
	build build-test -DBPFLUA_SANITIZE=ON -DBUILD_TESTING=ON
	BPFLUA_HOST_BUILD=$PWD/build-test exec tests/vm/matrix.sh
	;;
vm)
	vm_prepare
	exec tests/vm/run.sh "$@"
	;;
*)
	echo "usage: ./dev.sh run [TRACER ARGS...] | test | build | test-kernels | vm KERNEL -- COMMAND..." >&2
	exit 2
	;;
esac
