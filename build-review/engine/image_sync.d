build-review/engine/image_sync.o: engine/image_sync.c engine/bytes.h \
 engine/err.h engine/lifeboat_engine.h engine/fsutil.h engine/packer.h \
 engine/store.h engine/backend.h engine/chunkindex.h engine/crypto.h \
 engine/codec.h engine/tree.h engine/parallel.h engine/sync.h
engine/bytes.h:
engine/err.h:
engine/lifeboat_engine.h:
engine/fsutil.h:
engine/packer.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/parallel.h:
engine/sync.h:
