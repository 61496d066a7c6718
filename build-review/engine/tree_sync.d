build-review/engine/tree_sync.o: engine/tree_sync.c engine/err.h \
 engine/lifeboat_engine.h engine/fsutil.h engine/parallel.h \
 engine/store.h engine/backend.h engine/chunkindex.h engine/crypto.h \
 engine/codec.h engine/tree.h engine/stream.h engine/cdc.h \
 engine/packer.h engine/sync.h
engine/err.h:
engine/lifeboat_engine.h:
engine/fsutil.h:
engine/parallel.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/stream.h:
engine/cdc.h:
engine/packer.h:
engine/sync.h:
