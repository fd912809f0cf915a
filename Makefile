# Telegraphy build. `make run` and `make test` are the whole set-up (README).
#
#   make            build the gateway binaries into build/bin/
#   make SAN=1      same, with AddressSanitizer + UBSan, into build-asan/
#   make test       install what is missing, build (plain + sanitizers), run every suite
#   make gateway    the gateway services in the foreground (Ctrl-C stops them)
#   make run        everything: the gateway and the demo site on http://127.0.0.1:8000/
#   make fuzz       libFuzzer targets (clang), longer runs: make fuzz FUZZ_SECONDS=300
#   make deps       install missing Debian and npm packages (called by test/run/gateway)

CC ?= gcc
PKGS := libczmq libzmq libwebsockets msgpack jansson openssl libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE $(WARNINGS) -Ilib $(PKG_CFLAGS) -MMD -MP

ifeq ($(SAN),1)
BUILD ?= build-asan
CFLAGS_MODE := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_MODE := -fsanitize=address,undefined
else
BUILD ?= build
CFLAGS_MODE := -O2 -g
LDFLAGS_MODE :=
endif

CFLAGS_ALL := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm

SERVICES := ingest router edge persist
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_A := $(BUILD)/lib/libtelegraphy.a

# A service's classes (everything but main.c) also link into its unit tests.
service_src = $(filter-out services/$(1)/main.c,$(wildcard services/$(1)/*.c))
CTL_SRC := $(wildcard tools/ctl/*.c)
CTL_CLASSES := $(filter-out tools/ctl/main.c,$(CTL_SRC))

BINS := $(SERVICES:%=$(BUILD)/bin/telegraphy-%) $(BUILD)/bin/telegraphy-ctl
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit gateway run fuzz clean format bench bench-query check-format loadgen
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define service_rules
$(BUILD)/bin/telegraphy-$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard services/$(1)/*.c)) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS_MODE) $$^ -o $$@ $(LDLIBS_ALL)
$(BUILD)/tests/test_$(1)_%: tests/unit/test_$(1)_%.c $(patsubst %.c,$(BUILD)/obj/%.o,$(call service_src,$(1))) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) -Iservices/$(1) $$(filter-out %.h,$$^) -o $$@ $(LDFLAGS_MODE) $(LDLIBS_ALL) $$(shell pkg-config --libs criterion)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

# persist's schema migrations (services/persist/migrations/NNNN_name.sql),
# embedded into the binary and its unit tests as C strings by embed.awk.
PERSIST_SQL := $(sort $(wildcard services/persist/migrations/*.sql))
PERSIST_MIGRATIONS_C := $(BUILD)/gen/persist_migrations.c
PERSIST_MIGRATIONS_O := $(BUILD)/gen/persist_migrations.o
$(PERSIST_MIGRATIONS_C): $(PERSIST_SQL) services/persist/migrations/embed.awk
	@mkdir -p $(dir $@)
	awk -f services/persist/migrations/embed.awk $(PERSIST_SQL) > $@.tmp && mv $@.tmp $@
$(PERSIST_MIGRATIONS_O): $(PERSIST_MIGRATIONS_C)
	$(CC) $(CFLAGS_ALL) -Iservices/persist -c $< -o $@
$(BUILD)/bin/telegraphy-persist $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_persist_*.c)): $(PERSIST_MIGRATIONS_O)

$(BUILD)/bin/telegraphy-ctl: $(CTL_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_MODE) $^ -o $@ $(LDLIBS_ALL)

$(BUILD)/tests/test_ctl_%: tests/unit/test_ctl_%.c $(CTL_CLASSES:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itools/ctl $(filter-out %.h,$^) -o $@ $(LDFLAGS_MODE) $(LDLIBS_ALL) $(shell pkg-config --libs criterion)

# Library unit tests: test_tg_<module>.c
$(BUILD)/tests/test_tg_%: tests/unit/test_tg_%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(filter-out %.h,$^) -o $@ $(LDFLAGS_MODE) $(LDLIBS_ALL) $(shell pkg-config --libs criterion)

unit: $(UNIT_BINS)

# libFuzzer targets: clang, the library rebuilt with -fsanitize=fuzzer-no-link.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SECONDS ?= 60
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS_ALL)
fuzz-build: $(FUZZ_BINS)
fuzz: deps fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

deps:
	@scripts/deps.sh

test: deps
	@scripts/static.sh
	@scripts/test.sh

# The AutobahnJS browser build, copied from npm into the Django app's static
# files (not committed: it comes from package-lock.json).
static: deps
	@scripts/static.sh

gateway: deps all
	@scripts/gateway.sh

run: deps all static
	@scripts/run.sh

# Telegraphy against nchan and Django Channels (issue 6): installs the
# peers (bench/deps.sh), runs every workload with the C load client, prints
# one table and writes bench/results/latest.json. Not a test: run it alone.
bench: deps all loadgen
	@bench/deps.sh
	@/usr/bin/python3 bench/run.py

# The load client: bench/loadgen/*.c (main.c wires; the rest are classes
# with unit tests tests/unit/test_loadgen_<x>.c).
LOADGEN_SRC := $(wildcard bench/loadgen/*.c)
LOADGEN_CLASSES := $(filter-out bench/loadgen/main.c,$(LOADGEN_SRC))
LOADGEN := $(BUILD)/bench/telegraphy-loadgen
$(LOADGEN): $(LOADGEN_SRC:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_MODE) $^ -o $@ $(LDLIBS_ALL)
# W5's ceiling: a minimal libpq client writing a guaranteed event's rows.
PGCEILING := $(BUILD)/bench/telegraphy-pgceiling
$(PGCEILING): $(BUILD)/obj/bench/pgceiling/main.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_MODE) $^ -o $@ $(LDLIBS_ALL)
loadgen: $(LOADGEN) $(PGCEILING)

$(BUILD)/tests/test_loadgen_%: tests/unit/test_loadgen_%.c $(LOADGEN_CLASSES:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ibench/loadgen $(filter-out %.h,$^) -o $@ $(LDFLAGS_MODE) $(LDLIBS_ALL) $(shell pkg-config --libs criterion)

# The router's filter index against a linear scan (issue 5). Not a test:
# run it alone on a quiet machine; it prints a table and writes
# bench/results/query.json (kept out of git: results are per machine).
BENCH_QUERY := $(BUILD)/bench/bench_query
$(BENCH_QUERY): bench/query/bench_query.c $(patsubst %.c,$(BUILD)/obj/%.o,$(call service_src,router)) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iservices/router $(filter-out %.h,$^) -o $@ $(LDFLAGS_MODE) $(LDLIBS_ALL)
bench-query: $(BENCH_QUERY)
	@mkdir -p bench/results
	$(BENCH_QUERY) bench/results/query.json

format:
	clang-format -i lib/*.[ch] services/*/*.[ch] tools/ctl/*.[ch] bench/loadgen/*.[ch] tests/unit/*.c tests/fuzz/*.c

check-format:
	clang-format --dry-run --Werror lib/*.[ch] services/*/*.[ch] tools/ctl/*.[ch] bench/loadgen/*.[ch] bench/pgceiling/*.c

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)
