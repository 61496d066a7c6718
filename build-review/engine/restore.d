build-review/engine/restore.o: engine/restore.c engine/err.h \
 engine/lifeboat_engine.h engine/sync.h engine/store.h engine/backend.h \
 engine/chunkindex.h engine/crypto.h engine/codec.h engine/tree.h
engine/err.h:
engine/lifeboat_engine.h:
engine/sync.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
