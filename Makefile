# vigil — one non-recursive Makefile. Each folder adds its sources in module.mk.
#   make                 build every binary into build/bin/
#   make check           install deps, build, run every test tier (what CI runs)
#   make demo            install deps, build, run an attested node on loopback
#   make SANITIZE=address,undefined   build with sanitizers (into build/san)
#   make fuzz            build libFuzzer targets with clang (into build/fuzz)
#   make format          reformat all C sources with the checked-in .clang-format
#   make image           container images (Containerfile) with podman; docs/kubernetes.md
#   make check-image     build the images and check inside them (needs podman and root)
.SUFFIXES:
# Keep intermediate objects: they are the next build's cache.
.SECONDARY:
.DEFAULT_GOAL := all

SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build
SANFLAGS :=
else
BUILD ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CC ?= cc
PKGS := tss2-esys tss2-mu tss2-tctildr tss2-rc libcrypto libssl libevent libevent_openssl \
	libevent_pthreads jansson inih sqlite3 libpq grpc libprotobuf-c libpcre2-8 libcbor zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wcast-qual -Wpointer-arith
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -I. -isystem $(BUILD)/gen $(PKG_CFLAGS) \
	-MMD -MP
ALL_LDFLAGS := -Wl,--as-needed $(LDFLAGS) $(SANFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj
LIBVIGIL := $(BUILD)/libvigil.a

COMMON_SRCS :=
AGENT_SRCS :=
REGISTRAR_SRCS :=
VERIFIER_SRCS :=
CTL_SRCS :=
PROGRAMS :=

include $(sort $(wildcard */module.mk))
include $(sort $(wildcard test/tools/module.mk))
include $(sort $(wildcard test/loadgen/module.mk))
include test/unit/module.mk
include test/fuzz/module.mk

COMMON_OBJS := $(COMMON_SRCS:%.c=$(OBJ)/%.o)

# Every object depends on the generated protobuf-c headers: they are included with
# -isystem, which -MMD leaves out of the .d files, so an edited .proto must rebuild its
# users this way (it rebuilds all objects; .proto files change rarely).
$(OBJ)/%.o: %.c $(PROTO_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBVIGIL): $(COMMON_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^

# prog_template(name, srcs): build/bin/name from its own objects plus libvigil.
define prog_template
$(BIN)/$(1): $$($(2):%.c=$(OBJ)/%.o) $(LIBVIGIL)
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	@$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(LIBS)
PROGRAMS += $(BIN)/$(1)
endef
$(eval $(call prog_template,vigil-agent,AGENT_SRCS))
$(eval $(call prog_template,vigil-registrar,REGISTRAR_SRCS))
$(eval $(call prog_template,vigil-verifier,VERIFIER_SRCS))
$(eval $(call prog_template,vigilctl,CTL_SRCS))

.PHONY: all deps check check-quick demo bench fuzz format format-check layering clean unit fuzz-replay
.PHONY: image image-deps check-image
all: $(PROGRAMS) $(UNIT_BINS)

deps:
	@./deploy/deps.sh

# check: every tier, one summary line at the end (test/run.sh prints it).
check: deps
	@$(MAKE) -s -j$$(nproc) all
	@$(MAKE) -s -j$$(nproc) SANITIZE=address,undefined fuzz-replay-bins
	@./test/run.sh

demo: deps
	@$(MAKE) -s -j$$(nproc) all
	@./deploy/demo.sh

bench: deps
	@$(MAKE) -s -j$$(nproc) all
	@./test/bench/run.sh

# Container images: the image tools are installed here, never by `make check`.
image-deps:
	@./deploy/deps.sh --image

image: image-deps
	@./deploy/image/build.sh

check-image:
	@./test/image/check.sh

format:
	clang-format -i $(ALL_C_FILES)

ALL_C_FILES = $(shell find common agent registrar verifier ctl test -name '*.[ch]' 2>/dev/null)

format-check:
	@clang-format --dry-run -Werror $(ALL_C_FILES)

layering:
	@./test/layering.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
