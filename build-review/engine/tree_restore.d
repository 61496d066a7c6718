build-review/engine/tree_restore.o: engine/tree_restore.c \
 engine/beneath.h engine/bytes.h engine/err.h engine/lifeboat_engine.h \
 engine/fetch.h engine/store.h engine/backend.h engine/chunkindex.h \
 engine/crypto.h engine/codec.h engine/tree.h engine/fsutil.h \
 engine/parallel.h engine/stream.h engine/cdc.h engine/packer.h \
 engine/sync.h
engine/beneath.h:
engine/bytes.h:
engine/err.h:
engine/lifeboat_engine.h:
engine/fetch.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/fsutil.h:
engine/parallel.h:
engine/stream.h:
engine/cdc.h:
engine/packer.h:
engine/sync.h:
