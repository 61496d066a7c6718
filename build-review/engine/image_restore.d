build-review/engine/image_restore.o: engine/image_restore.c \
 engine/bytes.h engine/err.h engine/lifeboat_engine.h engine/fetch.h \
 engine/store.h engine/backend.h engine/chunkindex.h engine/crypto.h \
 engine/codec.h engine/tree.h engine/fsutil.h engine/parallel.h \
 engine/sync.h
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
engine/sync.h:
