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
	# The last act: refused through the plain port-forward, accepted with in-pod gamelan-snat,
	# refused again after its DEL, accepted with router mode; the log names the gateway.
	assert_match 'The friend joins 198\.51\.100\.1:10999; dst-0 answers: refused: ID_DST_SERVER_IS_LAN_ONLY 198\.51\.100\.56' \
		"$T_OUT" "the refusal through the plain port-forward" || return
	assert_match 'The friend joins 198\.51\.100\.1:10999 again; dst-0 answers: accepted friend from \[LAN\] 192\.168\.1\.1' \
		"$T_OUT" "the in-pod act" || return
	assert_match 'The LAN player keeps its own address: accepted wilson from \[LAN\] 192\.168\.1\.77' \
		"$T_OUT" "the LAN player in the in-pod act" || return
	assert_contains "CNI DEL of gamelan-snat: its table is gone, and the friend is refused again." "$T_OUT" \
		"the in-pod DEL" || return
	assert_match 'Router mode instead.*The friend joins 198\.51\.100\.1:10999; dst-0 answers: accepted friend from \[LAN\] 192\.168\.1\.1' \
		"$(tr '\n' ' ' <<<"$T_OUT")" "the router-mode act" || return
	assert_eq 2 "$(grep -c 'dst-0 logs: *Client connected from \[LAN\] 192\.168\.1\.1 (friend)' <<<"$T_OUT")" \
		"log lines naming the gateway as the client (in-pod and router mode)" || return
	assert_contains "The WAN friend plays on the LAN-only server: to it, they look like a LAN player." "$T_OUT" \
		"the ending" || return
	assert_contains "next: an operator makes the router-mode forwards follow the game servers." "$T_OUT" "the last line" || return
	assert_eq "next: an operator makes the router-mode forwards follow the game servers." "$(tail -n 1 <<<"$T_OUT")" \
		"the very last line" || return
	assert_eq "" "$(world_namespaces)" "namespaces left"
}
t_run "demo.sh plays the seed's story with gamelan-macvlan + gamelan-ipam, and the last act with gamelan-snat (in-pod, then router mode)" case_demo

t_done
