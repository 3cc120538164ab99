#!/bin/bash
# Set-up, build, run and test bpflua on Debian 12, as root.
#   ./dev.sh run [TRACER ARGS...]   install what is missing, build, run (default: syscount -d 5)
#   ./dev.sh test                   install what is missing, build with ASan/UBSan, run every test
#   ./dev.sh build                  build only
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
#   cmake gcc make pkg-config  the build
#   libcmocka-dev  C unit tests (test only)
#   util-linux     unshare/setpriv for the no-BTF and no-privilege tests (test only)
#   python3        parses the tracers' JSON and SVG output in tests (test only)
#   python3-grpcio a gRPC server and client for the http tracer's test (test only)
#   openssl        a throwaway certificate for the HTTPS test (test only)
#   xz-utils       makes a kheaders.tar.xz for the header-tree unit test (test only)
RUN_PKGS="libbpfcc-dev liblua5.4-dev libelf-dev libjson-c-dev libedit-dev nettle-dev libarchive-dev zlib1g-dev linux-headers-amd64 cmake gcc make pkg-config libc6-dev"
TEST_PKGS="libcmocka-dev util-linux procps python3 python3-grpcio openssl xz-utils"

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
*)
	echo "usage: ./dev.sh run [TRACER ARGS...] | test | build" >&2
	exit 2
	;;
esac
