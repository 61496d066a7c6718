build-review/engine/store.o: engine/store.c engine/store.h \
 engine/backend.h engine/lifeboat_engine.h engine/chunkindex.h \
 engine/crypto.h engine/codec.h engine/tree.h engine/bytes.h \
 engine/envelope.h engine/err.h
engine/store.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/bytes.h:
engine/envelope.h:
engine/err.h:
