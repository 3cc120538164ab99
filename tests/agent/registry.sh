#!/bin/bash
# The registry and the text format (tests/agent/registry.lua), then
# Prometheus's own linter on what it wrote.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
check "registry.lua" "$BPFLUA" "$here/registry.lua" "$tmp/metrics.txt"
check "promtool check metrics" promtool check metrics <"$tmp/metrics.txt"
finish agent_registry
