# lifeboat — build, test, demo, bench. A fresh Debian 12 machine needs only
# `make demo` or `make test`: both install the missing packages first.

CC ?= cc
BUILD ?= build
PKGS := lua5.4 libcurl openssl libcjson libzstd yaml-0.1 libxml-2.0
DEB_PACKAGES := gcc make pkg-config liblua5.4-dev libcurl4-openssl-dev libssl-dev \
	libcjson-dev libzstd-dev libyaml-dev libxml2-dev
# What plans/smarthotel runs: the demo and its end-to-end test. Defined
# before TEST_PACKAGES, which `:=` expands at once.
DEMO_PACKAGES := postgresql-15 php8.2-fpm php8.2-pgsql nginx curl
# Node.js runs the storage emulators (Azurite, s3rver), installed by the
# tests with npm. A machine that has npm from elsewhere keeps it.
NODE_PACKAGES := $(shell command -v npm >/dev/null 2>&1 || echo nodejs npm)
# What plans/vm runs (make demo-vm, its test): QEMU, a kernel's modules and
# busybox for the guests, ext4 images and debugfs, network namespaces,
# BIND for the DNS failover.
VM_PACKAGES := qemu-system-x86 qemu-utils qemu-guest-agent busybox-static e2fsprogs iproute2 bind9 bind9-utils bind9-dnsutils curl
# What plans/fleet runs (make demo-fleet, its test): hosts with their own
# sshd, PostgreSQL and nginx on them, s3rver (npm) for the store.
FLEET_PACKAGES := openssh-server openssh-client postgresql-15 nginx curl iproute2 $(NODE_PACKAGES)
# What the tests start or use: real servers on 127.0.0.1 (nginx, sshd for
# SFTP stores, the emulators), a JSON Schema validator, the AWS signer.
TEST_PACKAGES := nginx python3-jsonschema python3-yaml openssl curl chromium openssh-server python3-botocore strace procps \
	faketime prometheus $(NODE_PACKAGES) $(DEMO_PACKAGES) $(VM_PACKAGES) $(FLEET_PACKAGES)
BENCH_PACKAGES := restic borgbackup casync rsync time openssh-server $(NODE_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS ?= $(OPT)
override CFLAGS += -std=c11 $(WARN) -pthread
override CPPFLAGS += -D_GNU_SOURCE -MMD -MP -Iengine -Iruntime $(PKG_CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

ENGINE_SRC := $(wildcard engine/*.c)
RUNTIME_SRC := $(wildcard runtime/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(BUILD)/%.o)
STDLIB_SRC := $(sort $(shell find stdlib -name '*.lua'))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all deps test check demo demo-vm demo-fleet bench soak torture asan fuzz valgrind install clean fresh

all: lifeboat

lifeboat: $(BUILD)/lifeboat
	@cp $< $@

$(BUILD)/lifeboat: $(RUNTIME_OBJ) $(BUILD)/stdlib_embed.o $(BUILD)/libengine.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# stdlib/ goes into the binary, so lifeboat runs from any folder.
$(BUILD)/stdlib_embed.c: $(BUILD)/embed $(STDLIB_SRC)
	$(BUILD)/embed $@ $(STDLIB_SRC)

$(BUILD)/embed: runtime/tools/embed.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/stdlib_embed.o: $(BUILD)/stdlib_embed.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libengine.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDLIBS)

# Installs the Debian packages the build needs that are missing (and only those).
deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing; \
		$(SUDO) apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi

# The README's commands: each sets up what it needs first.
test:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES)"
	@$(MAKE) --no-print-directory check

check: $(BUILD)/lifeboat $(UNIT_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) LIFEBOAT_WRAP="$(LIFEBOAT_WRAP)" ONLY="$(ONLY)" tests/run.sh

demo:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(DEMO_PACKAGES)"
	@$(MAKE) --no-print-directory lifeboat
	@BUILD=$(BUILD) ./demo.sh

demo-vm:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(VM_PACKAGES)"
	@$(MAKE) --no-print-directory lifeboat
	@BUILD=$(BUILD) ./demo-vm.sh

demo-fleet:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(FLEET_PACKAGES)"
	@$(MAKE) --no-print-directory lifeboat
	@BUILD=$(BUILD) ./demo-fleet.sh

bench:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PACKAGES) $(DEMO_PACKAGES) $(VM_PACKAGES) $(FLEET_PACKAGES)"
	@$(MAKE) --no-print-directory lifeboat $(TOOL_BIN)
	@BUILD=$(BUILD) tests/bench/run.sh
	@BUILD=$(BUILD) tests/bench/realdisk.sh
	@BUILD=$(BUILD) tests/bench/tree.sh
	@BUILD=$(BUILD) tests/bench/remote.sh
	@BUILD=$(BUILD) tests/bench/plan.sh
	@BUILD=$(BUILD) tests/bench/lifecycle.sh
	@BUILD=$(BUILD) tests/bench/vm.sh
	@BUILD=$(BUILD) tests/bench/fleet.sh
	@BUILD=$(BUILD) tests/bench/protect.sh
	@BUILD=$(BUILD) tests/bench/protect_vm.sh

# kill -9 at random moments in sync, prune, restore and failover jobs, then
# the checks (TRIALS=N per kind, default 50; TORTURE_SEED=N replays). Not
# part of `make test`.
# lifeboat protect for ROUNDS (default 1000) replicate rounds: memory and
# open files flat, nothing left running. Minutes; not part of make test.
soak:
	@$(MAKE) --no-print-directory lifeboat
	@BUILD=$(BUILD) ROUNDS=$(ROUNDS) tests/soak/run.sh

torture:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="python3"
	@$(MAKE) --no-print-directory lifeboat $(TOOL_BIN)
	@BUILD=$(BUILD) TRIALS=$(TRIALS) tests/torture/run.sh

asan:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(TEST_PACKAGES)"
	@$(MAKE) --no-print-directory check BUILD=build-asan \
		OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined"

# libFuzzer targets, one per parser of untrusted bytes (tests/fuzz/fuzz_*.c),
# built with clang into build-fuzz/ and run FUZZ_SECONDS each from their seed
# corpora; fails when one finds a crash, a leak or a timeout.
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="clang libclang-rt-14-dev"
	@$(MAKE) --no-print-directory $(FUZZ_NAMES:%=build-fuzz/fuzz/%) BUILD=build-fuzz CC=clang \
		OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined"
	@BUILD=build-fuzz tests/fuzz/run.sh --crashes
	@BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_NAMES)

# A target includes the engine file of the static function it reaches; the
# archives supply the rest (an archive member defining the same symbols is
# then never pulled in).
$(BUILD)/libruntime.a: $(filter-out $(BUILD)/runtime/main.o,$(RUNTIME_OBJ)) $(BUILD)/stdlib_embed.o
	$(AR) rcs $@ $^

$(BUILD)/tests/fuzz/harness.o: tests/fuzz/harness.h

FUZZ_LINK := $(BUILD)/tests/fuzz/harness.o $(BUILD)/libruntime.a $(BUILD)/libengine.a
$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/fuzz $(CFLAGS) $(LDFLAGS) -o $@ $< $(FUZZ_LINK) $(LDLIBS)

# The unit tests and the small end-to-end tests, every process under valgrind.
valgrind:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES=valgrind
	@$(MAKE) --no-print-directory check ONLY='test_|badinput|encrypted|tree|delta|plan_validate' \
		LIFEBOAT_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"

# The README's two commands on a clean Debian 12 root (mmdebstrap, cached),
# on a fresh clone of the committed HEAD. Not part of `make test`.
fresh:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="mmdebstrap git"
	@tests/fresh.sh

PREFIX ?= /usr/local
install: lifeboat
	install -D -m 0755 lifeboat $(DESTDIR)$(PREFIX)/bin/lifeboat

clean:
	rm -rf build build-asan build-fuzz lifeboat

-include $(ENGINE_OBJ:.o=.d) $(RUNTIME_OBJ:.o=.d) $(wildcard $(BUILD)/fuzz/*.d)
