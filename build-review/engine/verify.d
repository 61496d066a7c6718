build-review/engine/verify.o: engine/verify.c engine/bytes.h \
 engine/envelope.h engine/chunkindex.h engine/crypto.h \
 engine/lifeboat_engine.h engine/codec.h engine/err.h engine/parallel.h \
 engine/reach.h engine/store.h engine/backend.h engine/tree.h
engine/bytes.h:
engine/envelope.h:
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/codec.h:
engine/err.h:
engine/parallel.h:
engine/reach.h:
engine/store.h:
engine/backend.h:
engine/tree.h:
