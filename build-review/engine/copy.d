build-review/engine/copy.o: engine/copy.c engine/bytes.h engine/cdc.h \
 engine/err.h engine/lifeboat_engine.h engine/fetch.h engine/store.h \
 engine/backend.h engine/chunkindex.h engine/crypto.h engine/codec.h \
 engine/tree.h engine/packer.h engine/stream.h engine/sync.h
engine/bytes.h:
engine/cdc.h:
engine/err.h:
engine/lifeboat_engine.h:
engine/fetch.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/packer.h:
engine/stream.h:
engine/sync.h:
