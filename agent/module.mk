# agent/: vigil-agent
AGENT_SRCS += agent/main.c agent/tpm.c agent/api_version.c agent/identity.c agent/register.c \
	agent/server.c

# Unit tests of agent modules link the agent objects they test (an explicit rule wins over
# test/unit's pattern and keeps the objects before libvigil on the link line).
$(BUILD)/test/test_agent_api: $(OBJ)/test/unit/test_agent_api.o $(OBJ)/agent/api_version.o \
		$(OBJ)/agent/register.o $(OBJ)/agent/tpm.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
