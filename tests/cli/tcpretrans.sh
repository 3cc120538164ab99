#!/bin/bash
# tcpretrans against the sender's own count: a client on 127.0.0.1 sends
# 100 bytes while an nftables rule of the test's own drops what reaches the
# server's port, for 0.7 s; then the rule goes and the data arrives. Every
# retransmit of that connection is reported, and those that went out are as
# many as the kernel's tcpi_total_retrans for the client's socket says
# (TCP_INFO, read once everything is acknowledged). --count gives the same
# number in one row. The nftables table is removed whatever happens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
table="bl_tcpretrans_$$"
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	nft delete table inet "$table" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$here/snoop_lib.sh"
command -v nft >/dev/null || { echo "FAIL: nft (Debian nftables) is not installed"; exit 1; }

start_tracer lines "$BPFLUA" run tcpretrans --format json -a 127.0.0.1
start_tracer count "$BPFLUA" run tcpretrans --count
python3 - "$tmp" <<'PY' &
import os, socket, struct, sys, time
tmp = sys.argv[1]
def tlps():  # TcpExt TCPLossProbes: tail loss probes, host-wide
    lines = [l.split() for l in open("/proc/net/netstat") if l.startswith("TcpExt:")]
    return int(lines[1][lines[0].index("TCPLossProbes")])
tlp0 = tlps()
def wait(name, limit=20):
    end = time.time() + limit
    while not os.path.exists(f"{tmp}/{name}"):
        assert time.time() < end, name
        time.sleep(0.01)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname(), timeout=20)
conn, _ = srv.accept()
conn.settimeout(20)
with open(f"{tmp}/ports.tmp", "w") as f:
    f.write(f"{cli.getsockname()[1]} {srv.getsockname()[1]}\n")
os.rename(f"{tmp}/ports.tmp", f"{tmp}/ports")
wait("dropping")
cli.sendall(b"x" * 100)
time.sleep(0.7)
open(f"{tmp}/heal", "w").close()
got = b""
while len(got) < 100:
    got += conn.recv(100)
def info():  # struct tcp_info: tcpi_unacked at 24, tcpi_total_retrans at 100
    b = cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", b, 24)[0], struct.unpack_from("I", b, 100)[0]
end = time.time() + 20
while info()[0] and time.time() < end:
    time.sleep(0.01)
unacked, total = info()
assert unacked == 0, unacked
with open(f"{tmp}/retrans", "w") as f:
    f.write(f"{total} {tlps() - tlp0}\n")
cli.close(); conn.close(); srv.close()
PY
py=$!
for _ in $(seq 1 400); do [ -s "$tmp/ports" ] && break; sleep 0.05; done
read -r cport sport <"$tmp/ports"
nft add table inet "$table"
nft add chain inet "$table" input '{ type filter hook input priority 0; }'
nft add rule inet "$table" input ip daddr 127.0.0.1 tcp dport "$sport" drop
touch "$tmp/dropping"
for _ in $(seq 1 400); do [ -e "$tmp/heal" ] && break; sleep 0.05; done
nft delete table inet "$table"
wait $py || { echo "FAIL: the client"; exit 1; }
for t in lines count; do stop_tracer $t; done
python3 - "$tmp" "$cport" "$sport" <<'PY' || exit 1
import json, sys
tmp, cport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# a tail loss probe is a retransmit tcp_info counts but that does not pass
# tcp:tcp_retransmit_skb (the kernel sends it through __tcp_retransmit_skb):
# the host's TCPLossProbes counter bounds how many of the total were probes
total, probes = map(int, open(tmp + "/retrans").read().split())
rows = [json.loads(l) for l in open(tmp + "/lines.out") if l.startswith("{")]
mine = [r for r in rows if (r["lport"], r["rport"]) == (cport, sport)]
sent = [r for r in mine if r["err"] == 0]
assert total >= 2 and total - min(probes, total - 1) <= len(sent) <= total, (total, probes, mine)
assert all(r["laddr"] == r["raddr"] == "127.0.0.1" and r["state"] == "ESTABLISHED" and r["result"] == "sent"
           for r in sent), sent
print(f"tcpretrans: {len(sent)} retransmits of 127.0.0.1:{cport} -> {sport}, tcpi_total_retrans {total}",
      f"({len(mine) - len(sent)} failed attempts)")
text = open(tmp + "/count.out").read().splitlines()
assert text[0].split() == ["LADDR", "LPORT", "RADDR", "RPORT", "RETRANSMITS", "FAILED"], text
row = [l.split() for l in text[1:] if l.split()[1:2] == [str(cport)] and l.split()[3:4] == [str(sport)]]
assert len(row) == 1 and int(row[0][4]) == len(sent), (row, len(sent))
PY

if "$BPFLUA" run tcpretrans -p 1 2>"$tmp/err"; then echo "FAIL: -p accepted"; exit 1; fi
grep -q "not in a process" "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$BPFLUA" list >"$tmp/list"
grep -q '^tcpretrans ' "$tmp/list" || { cat "$tmp/list"; echo "FAIL: list"; exit 1; }
echo "tcpretrans: 4 checks passed"
