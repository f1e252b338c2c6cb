# fuzz.mk - the libFuzzer build (GNU make, driven by `make fuzz` in tests/fuzz): the library's
# sources, tests/common and the targets compiled again with clang, -fsanitize=fuzzer,address,
# undefined, in fuzz-build/ beside the normal objects; then each target runs FUZZ_SECONDS.
#
# Variables (from tests/fuzz/Makefile): top_srcdir, top_builddir, srcdir, UCX_CFLAGS,
# HWLOC_CFLAGS, UCX_LIBS, HWLOC_LIBS; FUZZ_CC (clang-16), FUZZ_SECONDS (180), FUZZ_JOBS (1),
# FUZZ_TARGETS (wire node), FUZZ_ARGS (more libFuzzer flags).

FUZZ_CC ?= clang-16
ifeq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
$(error make fuzz needs clang with libFuzzer, and '$(FUZZ_CC)' is not installed: on Debian 12 run tools/setup-debian --fuzz (clang-16, libfuzzer-16-dev and libclang-rt-16-dev), or name another clang with FUZZ_CC=)
endif
FUZZ_SECONDS ?= 180
FUZZ_TARGETS ?= wire node
FUZZ_ARGS ?=
OUT := fuzz-build
# ASan's quarantine (freed memory kept from reuse) at 16 MiB rather than 256: each input frees a
# whole node, and fresh memory cost more page faults than the fuzzing itself.

# Pointer arithmetic checks recover, so that known.supp can name a finding not fixed yet
# (UBSAN_OPTIONS below: any other report still stops the run, halt_on_error=1).
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-recover=pointer-overflow \
	-fno-omit-frame-pointer
RUN_ENV = ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16} \
	UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$(abspath $(srcdir))/known.supp}
CFLAGS_FUZZ := -g -O1 $(SAN) -fsanitize=fuzzer-no-link \
	-fsanitize-coverage-ignorelist=$(srcdir)/coverage-ignore.txt -DFUZZ_SKIP_KNOWN -pthread -D_GNU_SOURCE \
	-DMOME_BINDIR='"$(bindir)"' \
	-I$(top_builddir) -I$(top_srcdir)/mome -I$(top_srcdir)/tests/common -I$(srcdir) \
	$(UCX_CFLAGS) $(HWLOC_CFLAGS)
LDFLAGS_FUZZ := $(SAN) -fsanitize=fuzzer -pthread -Wl,--wrap=mome_die -Wl,--as-needed \
	-Wl,--wrap=mmap,--wrap=munmap,--wrap=madvise

# boot_pmix.c is built only when configure found PMIx (mome/Makefile.am): the targets need no
# launcher.
LIB_SRC := $(filter-out %/boot_pmix.c,$(sort $(wildcard $(top_srcdir)/mome/*/*.c))) \
	$(wildcard $(top_srcdir)/tests/common/*.c)
LIB_OBJ := $(patsubst $(top_srcdir)/%.c,$(OUT)/%.o,$(LIB_SRC))

.PHONY: all run minimize
.SECONDARY:
all: $(addprefix $(OUT)/fuzz_,$(FUZZ_TARGETS))

# -MMD: each object depends on the headers it includes too (without, a structure grown in a header
# left objects built before with the old layout: ASan's "heap-buffer-overflow" in request(), a
# finding of the build, not of the code).
$(OUT)/%.o: $(top_srcdir)/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   $*.c"
	@$(FUZZ_CC) $(CFLAGS_FUZZ) -MMD -MP -c -o $@ $<

-include $(LIB_OBJ:.o=.d) $(patsubst %,$(OUT)/tests/fuzz/%.d,$(addprefix fuzz_,$(FUZZ_TARGETS)) fuzz_die fuzz_mmap)

$(OUT)/libmome_fuzz.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(OUT)/fuzz_%: $(OUT)/tests/fuzz/fuzz_%.o $(OUT)/tests/fuzz/fuzz_die.o \
		$(OUT)/tests/fuzz/fuzz_mmap.o $(OUT)/libmome_fuzz.a
	@echo "  FUZZLD   $@"
	@$(FUZZ_CC) $(LDFLAGS_FUZZ) -o $@ $^ $(UCX_LIBS) $(HWLOC_LIBS) -lpthread

# Each target: new inputs go to fuzz-build/corpus-<target> (the seed corpus in the source tree is
# only read), findings to crashes/<target>/ in the source tree, where make check replays them.
run: all
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(OUT)/corpus-$$t $(srcdir)/crashes/$$t; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    $(RUN_ENV) $(OUT)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	        -print_final_stats=1 -artifact_prefix=$(srcdir)/crashes/$$t/ \
	        $$(test $$t = wire && echo -max_len=9000) $(FUZZ_ARGS) \
	        $(OUT)/corpus-$$t $(srcdir)/corpus/$$t > $(OUT)/fuzz_$$t.log 2>&1; \
	    status=$$?; \
	    tail -n 30 $(OUT)/fuzz_$$t.log | grep -E '^(#[0-9]+|==|SUMMARY)' | tail -n 4; \
	    echo "fuzz_$$t: $$(grep -h 'stat::number_of_executed_units' $(OUT)/fuzz_$$t.log | \
	        sed 's/.*: *//') executions (log: tests/fuzz/$(OUT)/fuzz_$$t.log)"; \
	    if [ $$status -ne 0 ]; then \
	        echo "fuzz_$$t FOUND SOMETHING (exit $$status): see the log and crashes/$$t/"; \
	        exit $$status; \
	    fi; \
	done

# The seed corpus in the source tree, minimised: what it has plus what the runs found, merged on
# edges alone (-use_counters=0: hit counts would keep thousands of inputs).
minimize: all
	@for t in $(FUZZ_TARGETS); do \
	    rm -rf $(OUT)/min-$$t && mkdir -p $(OUT)/min-$$t $(OUT)/corpus-$$t && \
	    $(RUN_ENV) $(OUT)/fuzz_$$t -merge=1 -use_counters=0 $(OUT)/min-$$t $(srcdir)/corpus/$$t $(OUT)/corpus-$$t \
	        > $(OUT)/merge_$$t.log 2>&1 || exit 1; \
	    rm -f $(srcdir)/corpus/$$t/* && cp $(OUT)/min-$$t/* $(srcdir)/corpus/$$t/ && \
	    echo "corpus/$$t: $$(ls $(srcdir)/corpus/$$t | wc -l) inputs"; \
	done
