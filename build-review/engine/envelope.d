build-review/engine/envelope.o: engine/envelope.c engine/envelope.h \
 engine/chunkindex.h engine/crypto.h engine/lifeboat_engine.h \
 engine/codec.h engine/bytes.h engine/err.h
engine/envelope.h:
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/codec.h:
engine/bytes.h:
engine/err.h:
