build-review/engine/point.o: engine/point.c /usr/include/cjson/cJSON.h \
 engine/bytes.h engine/envelope.h engine/chunkindex.h engine/crypto.h \
 engine/lifeboat_engine.h engine/codec.h engine/err.h engine/parallel.h \
 engine/store.h engine/backend.h engine/tree.h
/usr/include/cjson/cJSON.h:
engine/bytes.h:
engine/envelope.h:
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/codec.h:
engine/err.h:
engine/parallel.h:
engine/store.h:
engine/backend.h:
engine/tree.h:
