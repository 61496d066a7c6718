build-review/engine/reach.o: engine/reach.c engine/reach.h engine/store.h \
 engine/backend.h engine/lifeboat_engine.h engine/chunkindex.h \
 engine/crypto.h engine/codec.h engine/tree.h engine/err.h \
 engine/stream.h engine/cdc.h engine/packer.h
engine/reach.h:
engine/store.h:
engine/backend.h:
engine/lifeboat_engine.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
engine/err.h:
engine/stream.h:
engine/cdc.h:
engine/packer.h:
