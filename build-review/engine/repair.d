build-review/engine/repair.o: engine/repair.c engine/bytes.h \
 engine/envelope.h engine/chunkindex.h engine/crypto.h \
 engine/lifeboat_engine.h engine/codec.h engine/err.h engine/packer.h \
 engine/store.h engine/backend.h engine/tree.h engine/reach.h
engine/bytes.h:
engine/envelope.h:
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/codec.h:
engine/err.h:
engine/packer.h:
engine/store.h:
engine/backend.h:
engine/tree.h:
engine/reach.h:
