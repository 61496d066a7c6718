build-review/engine/stream.o: engine/stream.c engine/stream.h \
 engine/cdc.h engine/packer.h engine/store.h engine/backend.h \
 engine/lifeboat_engine.h engine/chunkindex.h engine/crypto.h \
 engine/codec.h engine/tree.h engine/bytes.h engine/err.h
engine/stream.h:
engine/cdc.h:
engine/packer.h:
engine/store.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/bytes.h:
engine/err.h:
