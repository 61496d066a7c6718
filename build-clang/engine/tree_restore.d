build-clang/engine/tree_restore.o: engine/tree_restore.c engine/bytes.h \
  engine/err.h engine/lifeboat_engine.h engine/fsutil.h \
  engine/parallel.h engine/stream.h engine/cdc.h engine/packer.h \
  engine/store.h engine/backend.h engine/chunkindex.h engine/crypto.h \
  engine/codec.h engine/tree.h engine/sync.h

engine/bytes.h:

engine/err.h:

engine/lifeboat_engine.h:

engine/fsutil.h:

engine/parallel.h:

engine/stream.h:

engine/cdc.h:

engine/packer.h:

engine/store.h:

engine/backend.h:

engine/chunkindex.h:

engine/crypto.h:

engine/codec.h:

engine/tree.h:

engine/sync.h:
