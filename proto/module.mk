# proto/: vigil/v1/*.proto; protoc-c generates the C into $(BUILD)/gen at build time.
PROTOS := $(sort $(wildcard proto/vigil/v1/*.proto))
PROTO_C := $(PROTOS:proto/%.proto=$(BUILD)/gen/%.pb-c.c)
PROTO_H := $(PROTOS:proto/%.proto=$(BUILD)/gen/%.pb-c.h)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

COMMON_SRCS += $(PROTO_C)

# protoc-c output casts away const in its INIT macros; that is the generator's style,
# not ours. The header is included with -isystem; its .c gets this one relaxation.
$(PROTO_C:%.c=$(OBJ)/%.o): ALL_CFLAGS += -Wno-cast-qual
