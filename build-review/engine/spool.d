build-review/engine/spool.o: engine/spool.c engine/spool.h \
 engine/backend.h engine/lifeboat_engine.h engine/bytes.h engine/crypto.h \
 engine/err.h
engine/spool.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/bytes.h:
engine/crypto.h:
engine/err.h:
