build-review/engine/backend.o: engine/backend.c engine/backend.h \
 engine/lifeboat_engine.h engine/backend_remote.h engine/url.h \
 engine/err.h engine/lease.h engine/spool.h engine/store.h \
 engine/chunkindex.h engine/crypto.h engine/codec.h engine/tree.h
engine/backend.h:
engine/lifeboat_engine.h:
engine/backend_remote.h:
engine/url.h:
engine/err.h:
engine/lease.h:
engine/spool.h:
engine/store.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
