#!/bin/bash
# What ships beside the agent says what the agent takes: the example config
# (packaging/agent.lua) and the DaemonSet's ConfigMap pass
# `bpflua agent --check` and name every config key there is; the options of
# `bpflua agent --help` are the ones the bash completion offers and the man
# page's synopsis shows; the systemd unit and the DaemonSet start the agent
# with options it has. --check starts nothing and refuses a bad config.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
src=$(cd "$here/../.." && pwd)
pkg=$src/packaging
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

expect 0 "^$pkg/agent.lua: ok\$" "$BPFLUA" agent --config "$pkg/agent.lua" --check
expect 0 "^\(defaults\): ok\$" "$BPFLUA" agent --check
/usr/bin/python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d["kind"] == "ConfigMap":
        open(sys.argv[2], "w").write(d["data"]["agent.lua"])' "$pkg/kubernetes/daemonset.yaml" "$tmp/cm.lua" ||
	bad "no agent.lua in the DaemonSet's ConfigMap"
expect 0 "cm.lua: ok" "$BPFLUA" agent --config "$tmp/cm.lua" --check

# every key of the schema (nested ones as parent.key) appears in the example
"$BPFLUA" -e '
local schema = require("bpflua.agent.config").SCHEMA
local keys = {}
for k, spec in pairs(schema) do
  keys[#keys + 1] = k
  for k2 in pairs(spec.table or {}) do keys[#keys + 1] = k .. "." .. k2 end
end
table.sort(keys)
for _, k in ipairs(keys) do print(k) end' >"$tmp/keys" || bad "reading the config schema"
check "the schema has keys" [ "$(wc -l <"$tmp/keys")" -gt 20 ]
while read -r key; do
	leaf=${key##*.}
	parent=${key%.*}
	n=$((n + 1))
	if [ "$parent" = "$key" ]; then
		grep -Eq "(^|[^a-z_])$leaf = " "$pkg/agent.lua" || bad "packaging/agent.lua does not show the key $key"
	else
		# the leaf after its parent's table opens
		sed -n "/^  $parent = {/,/^  }/p" "$pkg/agent.lua" | grep -Eq "(^|[^a-z_])$leaf = " ||
			bad "packaging/agent.lua does not show the key $key in $parent = { }"
	fi
done <"$tmp/keys"

# the options: --help, the completion and the man page agree
"$BPFLUA" agent --help | grep -oE -- '--[a-z][a-z-]*' | sort -u >"$tmp/help.opts"
check "--help lists options" [ "$(wc -l <"$tmp/help.opts")" -ge 5 ]
# the agent's case: from "agent)" to the case's end
sed -n '/^\tagent)$/,/^\t\t;;$/p' "$pkg/bpflua.bash" | grep -oE 'compgen -W "[^"]*"' |
	grep -oE -- '--[a-z][a-z-]*' | sort -u >"$tmp/bash.opts"
check "the bash completion offers the agent's options: $(tr '\n' ' ' <"$tmp/bash.opts")" \
	cmp -s "$tmp/help.opts" "$tmp/bash.opts"
sed -n '/^\.B bpflua agent$/,/^\.br$/p' "$pkg/bpflua.1.in" | grep -oE -- '\\-\\-[a-z][a-z\\-]*' |
	sed 's/\\//g' | sort -u >"$tmp/man.opts"
echo --help >>"$tmp/man.opts" # the man page's synopsis shows --help once, for every command
sort -u -o "$tmp/man.opts" "$tmp/man.opts"
check "the man page's synopsis shows the agent's options: $(tr '\n' ' ' <"$tmp/man.opts")" \
	cmp -s "$tmp/help.opts" "$tmp/man.opts"
# what the service and the DaemonSet start it with
for o in $(sed -n 's/^ExecStart=.* agent //p' "$pkg/bpflua.service.in" | grep -oE -- '--[a-z-]+') \
	$(grep -oE '"--[a-z-]+"' "$pkg/kubernetes/daemonset.yaml" | tr -d '"'); do
	check "the service's option $o is the agent's" grep -qx -- "$o" "$tmp/help.opts"
done

# --check refuses what would not start, and starts nothing either way
printf 'return {\n  ring_buffer_pages = 100,\n}\n' >"$tmp/bad.lua"
expect 2 "bad.lua:2: key 'ring_buffer_pages' wants a power of 2" "$BPFLUA" agent --config "$tmp/bad.lua" --check
expect 2 'endpoint must be an http:// or https:// URL, not "localhost:4318"' \
	"$BPFLUA" agent --config "$pkg/agent.lua" --otlp localhost:4318 --check
expect 2 'OTEL_EXPORTER_OTLP_PROTOCOL is "grpc"' \
	env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$BPFLUA" agent --check
expect 2 "no exporter named 'nonesuch'" "$BPFLUA" agent --check --config <(echo 'return { exporters = { "nonesuch" } }')
"$BPFLUA" agent --config "$pkg/agent.lua" --listen "127.0.0.1:$port" --check >/dev/null 2>&1 &
checker=$!
sleep 0.5
check "--check serves nothing" bash -c "! curl -s --max-time 1 http://127.0.0.1:$port/metrics"
wait $checker
finish agent_packaging
