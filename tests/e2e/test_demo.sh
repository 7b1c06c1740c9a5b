#!/usr/bin/env bash
# `make demo` as a test: the seed's story must play through with the built plugins.
. "$(dirname "$0")/lib.sh"

case_demo() {
	# The demo's world gets a prefix derived from ours, so the runner's leak check sees it.
	GLW=${GLW}d assert_rc 0 "$GL_TOP/netns-harness/demo.sh" "$GL_BIN" || return
	assert_match 'games/dst-0 on node1: IP 192\.168\.1\.2(0[0-9]|1[0-6]), MAC' "$T_OUT" "dst-0's address" || return
	assert_contains "refused: ID_DST_SERVER_IS_LAN_ONLY 198.51.100.56" "$T_OUT" "the WAN refusal" || return
	assert_match 'Same IP [0-9.]+ and same MAC' "$T_OUT" "the recreated dst-0" || return
	assert_match 'games/dst-0 .*Bound' "$T_OUT" "gamelan-ipam list" || return
	assert_contains "next: snat makes the WAN player look like a LAN player." "$T_OUT" "the last line" || return
	assert_eq "" "$(world_namespaces)" "namespaces left"
}
t_run "demo.sh plays the seed's story with gamelan-macvlan + gamelan-ipam" case_demo

t_done
