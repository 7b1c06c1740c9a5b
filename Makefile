# gamelan: one Makefile for every binary, the tests, the demo and the benchmark.
#
# `make` builds build/bin/*; `make check` builds with ASan+UBSan and runs every
# unit and end-to-end test; `make demo` plays the seed's story in namespaces;
# `make bench` prints figures against the reference plugins.

PREFIX      ?= /usr/local
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR     ?=

PKGS        := json-c libmnl libnftnl sqlite3 libcurl yaml-0.1
CC          ?= cc
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# SAN=1 builds everything with AddressSanitizer and UBSan; the tests use it.
ifeq ($(SAN),1)
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
LDLIBS  += $(PKG_LIBS)

BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(OBJ)/%.o)
LIB_A   := $(BUILD)/libgamelan.a

# Each product binary: name = folder's sources.
MACVLAN_SRC := $(wildcard cni-macvlan/*.c)
IPAM_SRC    := $(wildcard ipam/*.c)
SNAT_SRC    := $(wildcard snat/*.c)
HARNESS_SRC := $(wildcard netns-harness/*.c)
BENCH_SRC   := $(wildcard bench/*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

PLUGINS := $(BIN)/gamelan-macvlan $(BIN)/gamelan-ipam $(BIN)/gamelan-snat
HARNESS := $(HARNESS_SRC:netns-harness/%.c=$(BIN)/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BIN)/%)
UNITS   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit e2e demo bench install clean
all: $(PLUGINS) $(HARNESS) $(BENCHES)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/gamelan-macvlan: $(MACVLAN_SRC:%.c=$(OBJ)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/gamelan-ipam: $(IPAM_SRC:%.c=$(OBJ)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/gamelan-snat: $(SNAT_SRC:%.c=$(OBJ)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/%: $(OBJ)/netns-harness/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/%: $(OBJ)/bench/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests may include a binary's own .c (for its static helpers) through
# -I; they link against the library only.
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(CMOCKA_LIBS) -o $@

# The README's two commands: each installs what it needs first, quietly.
deps:
	@tests/install-deps.sh

unit: $(UNITS)
	@tests/run-unit.sh $(UNITS)

check: deps
	@$(MAKE) --no-print-directory SAN=1 all units-build
	@tests/run-all.sh build/san

units-build: $(UNITS)

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

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
