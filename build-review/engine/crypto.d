build-review/engine/crypto.o: engine/crypto.c engine/crypto.h \
 engine/lifeboat_engine.h engine/bytes.h engine/err.h
engine/crypto.h:
engine/lifeboat_engine.h:
engine/bytes.h:
engine/err.h:
