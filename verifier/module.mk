# verifier/: vigil-verifier
VERIFIER_SRCS += verifier/main.c
VERIFIER_SRCS += verifier/vctx.c
VERIFIER_SRCS += verifier/worker.c
VERIFIER_SRCS += verifier/registry.c
VERIFIER_SRCS += verifier/policies.c
VERIFIER_SRCS += verifier/node.c
VERIFIER_SRCS += verifier/progress.c
VERIFIER_SRCS += verifier/storeq.c
VERIFIER_SRCS += verifier/lease.c
VERIFIER_SRCS += verifier/repin.c
VERIFIER_SRCS += verifier/update.c
VERIFIER_SRCS += verifier/events.c
VERIFIER_SRCS += verifier/outbox.c
VERIFIER_SRCS += verifier/utf8.c
VERIFIER_SRCS += verifier/attest.c
VERIFIER_SRCS += verifier/answer.c
VERIFIER_SRCS += verifier/apireq.c
VERIFIER_SRCS += verifier/api.c
VERIFIER_SRCS += verifier/verdict_ear.c
VERIFIER_SRCS += verifier/watch.c
VERIFIER_SRCS += verifier/event_ear.c
VERIFIER_SRCS += verifier/notices.c
VERIFIER_SRCS += verifier/api_outbox.c
$(BUILD)/test/test_verifier_utf8: $(OBJ)/test/unit/test_verifier_utf8.o $(OBJ)/verifier/utf8.o \
		$(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_verifier_storeq: $(OBJ)/test/unit/test_verifier_storeq.o \
		$(OBJ)/verifier/storeq.o $(OBJ)/verifier/events.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
VERIFIER_SRCS += verifier/sealer.c
VERIFIER_SRCS += verifier/api_events.c
VERIFIER_SRCS += verifier/metrics.c
$(BUILD)/test/test_verifier_answer: $(OBJ)/test/unit/test_verifier_answer.o \
		$(OBJ)/verifier/answer.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_verifier_registry: $(OBJ)/test/unit/test_verifier_registry.o \
		$(OBJ)/verifier/registry.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_verifier_verdict_ear: $(OBJ)/test/unit/test_verifier_verdict_ear.o \
		$(OBJ)/verifier/verdict_ear.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
VERIFIER_SRCS += verifier/report.c
VERIFIER_SRCS += verifier/attest_now.c
VERIFIER_SRCS += verifier/api_report.c
$(BUILD)/test/test_verifier_report: $(OBJ)/test/unit/test_verifier_report.o \
		$(OBJ)/verifier/report.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
$(BUILD)/test/test_verifier_verdict_ear: $(OBJ)/test/unit/test_verifier_verdict_ear.o \
		$(OBJ)/verifier/verdict_ear.o $(LIBVIGIL)
$(BUILD)/test/test_verifier_apireq: $(OBJ)/test/unit/test_verifier_apireq.o \
		$(OBJ)/verifier/apireq.o $(OBJ)/verifier/policies.o $(LIBVIGIL)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIBS)
