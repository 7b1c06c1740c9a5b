# gamelan: one Makefile for every binary, the tests, the demo and the benchmark.
#
# `make` builds build/bin/*; `make check` builds with ASan+UBSan and runs every
# unit and end-to-end test; `make demo` plays the seed's story in namespaces;
# `make bench` prints figures against the reference plugins.

PREFIX      ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR     ?=

# Each binary links only the layers and packages its own path needs (every
# shared object costs each exec of a plugin); see ARCHITECTURE.md.
PKGS_BASE   := json-c
PKGS_NET    := $(PKGS_BASE) libmnl libnftnl
PKGS_KUBE   := $(PKGS_NET) libcurl yaml-0.1
PKGS_IPAM   := $(PKGS_KUBE) sqlite3
PKGS_DAEMON := $(PKGS_IPAM) libsystemd libmicrohttpd
# gamelan-macvlan runs IPAM in-process on SQLite only and execs gamelan-ipam for
# the Kubernetes store (cni-macvlan/store_backends.c): no libcurl, libyaml or nftnl.
# SQLite and json-c are linked in statically, as the reference plugins (static Go
# binaries) are: the loader's symbol lookups and page faults for them were half the
# CPU of each exec (0.8 of 1.6 ms). The price: a SQLite security update needs a
# rebuild. MACVLAN_STATIC= links them dynamically.
MACVLAN_STATIC ?= sqlite3 json-c
PKGS_MACVLAN := libmnl $(filter-out $(MACVLAN_STATIC),sqlite3 json-c)
STATIC_MACVLAN := -Wl,-Bstatic $(addprefix -l,$(MACVLAN_STATIC)) -Wl,-Bdynamic -lm
LIBS_MACVLAN  = $(if $(MACVLAN_STATIC),$(STATIC_MACVLAN)) $(call pkg_libs,$(PKGS_MACVLAN))
CC          ?= cc
pkg_cflags   = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkg_libs     = $(shell pkg-config --libs $(1) 2>/dev/null)
PKG_CFLAGS  := $(call pkg_cflags,$(PKGS_DAEMON))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# SAN=1 builds everything with AddressSanitizer and UBSan; the tests use it.
# FUZZ=1 (set by `make fuzz`) builds the libFuzzer harnesses with clang.
ifeq ($(FUZZ),1)
BUILD       ?= build/fuzz
CC          := clang
SAN_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
OPT         := -O1 -g
else ifeq ($(SAN),1)
BUILD       ?= build/san
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT         := -O1 -g
else
BUILD       ?= build
SAN_FLAGS   :=
OPT         := -O2 -g
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  += -std=gnu11 $(OPT) $(WARN) $(SAN_FLAGS) -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP
LDFLAGS += $(SAN_FLAGS)

BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj

# lib/ is layered, lowest first; a folder uses only the folders before it.
LAYERS  := base cni net kube ipam daemon
lib_a    = $(BUILD)/lib/libgl-$(1).a
$(foreach l,$(LAYERS),$(eval LIB_$(l) := $(call lib_a,$(l))))
$(foreach l,$(LAYERS),$(eval OBJ_$(l) := $(patsubst %.c,$(OBJ)/%.o,$(wildcard lib/$(l)/*.c))))
# Archives a binary of each level links, highest first (static link order).
LIBS_NET    := $(LIB_net) $(LIB_cni) $(LIB_base)
LIBS_IPAM   := $(LIB_ipam) $(LIB_kube) $(LIBS_NET)
LIBS_DAEMON := $(LIB_daemon) $(LIBS_IPAM)
LIBS_ALL    := $(LIBS_DAEMON)

# Each product binary: name = folder's sources.
MACVLAN_SRC := $(wildcard cni-macvlan/*.c)
IPAM_SRC    := $(wildcard ipam/*.c)
SNAT_SRC    := $(wildcard snat/*.c)
OPERATOR_SRC := $(wildcard operator/*.c)
DOCKER_SRC  := $(wildcard docker-driver/*.c)
HARNESS_SRC := $(wildcard netns-harness/*.c)
BENCH_SRC   := $(wildcard bench/*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
# One harness per parser of untrusted bytes (tests/fuzz/README.md).
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES  := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_SECONDS ?= 30

PLUGINS := $(BIN)/gamelan-macvlan $(BIN)/gamelan-ipam $(BIN)/gamelan-snat
DAEMONS := $(BIN)/gamelan-operator $(BIN)/gamelan-docker
HARNESS := $(HARNESS_SRC:netns-harness/%.c=$(BIN)/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BIN)/%)
UNITS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZERS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: all deps check unit e2e demo bench install install-docker clean fuzz fuzzers
all: $(PLUGINS) $(DAEMONS) $(HARNESS) $(BENCHES)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Tests and benchmarks may use the harness's helpers (the fake API server).
$(OBJ)/tests/%.o $(OBJ)/bench/%.o: CFLAGS += -Inetns-harness

$(foreach l,$(LAYERS),$(eval $(call lib_a,$(l)): $(OBJ_$(l)) ; @mkdir -p $$(dir $$@) && $$(AR) rcs $$@ $$^))

$(BIN)/gamelan-macvlan: $(MACVLAN_SRC:%.c=$(OBJ)/%.o) $(LIB_ipam) $(LIBS_NET)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS_MACVLAN) -o $@

$(BIN)/gamelan-ipam: $(IPAM_SRC:%.c=$(OBJ)/%.o) $(LIBS_IPAM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_IPAM)) -o $@

$(BIN)/gamelan-snat: $(SNAT_SRC:%.c=$(OBJ)/%.o) $(LIBS_NET)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_NET)) -o $@

# The daemons link the whole library, lib/daemon's sd-event and libmicrohttpd.
$(BIN)/gamelan-operator: $(OPERATOR_SRC:%.c=$(OBJ)/%.o) $(LIBS_DAEMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) -o $@

$(BIN)/gamelan-docker: $(DOCKER_SRC:%.c=$(OBJ)/%.o) $(LIBS_DAEMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) -o $@

$(BIN)/%: $(OBJ)/netns-harness/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) -o $@

$(BIN)/%: $(OBJ)/bench/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) -o $@

# Unit tests link against the library only; test_docker_* also against the
# driver's pure part (docker-driver/wire.c), which only that binary uses.
$(OBJ)/tests/unit/test_docker_%.o: CFLAGS += -I.
$(BUILD)/tests/test_docker_wire: $(OBJ)/tests/unit/test_docker_wire.o $(OBJ)/docker-driver/wire.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) $(CMOCKA_LIBS) -o $@
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_DAEMON)) $(CMOCKA_LIBS) -o $@

# A harness with a replay main (gcc, any build): what `make check` runs over
# the corpora; with libFuzzer's main (clang, FUZZ=1): what `make fuzz` runs.
$(BUILD)/fuzz/replay_%: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/replay.o $(LIBS_IPAM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(call pkg_libs,$(PKGS_IPAM)) -o $@

$(BUILD)/fuzz/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(LIBS_IPAM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(call pkg_libs,$(PKGS_IPAM)) -o $@

fuzzers: $(FUZZERS)

# Each harness for FUZZ_SECONDS over its corpus (tests/fuzz/corpus/NAME).
fuzz:
	@tests/install-deps.sh clang
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build/fuzz $(FUZZ_NAMES)

# The README's two commands: each installs what it needs first, quietly.
deps:
	@tests/install-deps.sh

unit: $(UNITS) $(PLUGINS)
	@tests/run-unit.sh $(UNITS)

check: deps
	@$(MAKE) --no-print-directory SAN=1 all units-build
	@tests/run-all.sh build/san

units-build: $(UNITS) $(REPLAYS)

e2e: all
	@tests/run-e2e.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@netns-harness/demo.sh $(BUILD)/bin

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh $(BUILD)/bin

install: $(PLUGINS)
	install -d $(DESTDIR)$(CNI_BIN_DIR) $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PLUGINS) $(DESTDIR)$(CNI_BIN_DIR)/
	ln -sf $(CNI_BIN_DIR)/gamelan-ipam $(DESTDIR)$(PREFIX)/bin/gamelan-ipam
	ln -sf $(CNI_BIN_DIR)/gamelan-snat $(DESTDIR)$(PREFIX)/bin/gamelan-snat

# gamelan-docker and its systemd unit (conf/docker/README.md).
install-docker: $(BIN)/gamelan-docker
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/systemd/system
	install -m 0755 $(BIN)/gamelan-docker $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 conf/docker/gamelan-docker.service $(DESTDIR)/etc/systemd/system/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
