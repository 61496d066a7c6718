build-review/engine/fetch.o: engine/fetch.c engine/fetch.h engine/store.h \
 engine/backend.h engine/lifeboat_engine.h engine/chunkindex.h \
 engine/crypto.h engine/codec.h engine/tree.h engine/bytes.h engine/err.h
engine/fetch.h:
engine/store.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/bytes.h:
engine/err.h:
