build-review/engine/config.o: engine/config.c /usr/include/cjson/cJSON.h \
 engine/bytes.h engine/err.h engine/lifeboat_engine.h engine/store.h \
 engine/backend.h engine/chunkindex.h engine/crypto.h engine/codec.h \
 engine/tree.h
/usr/include/cjson/cJSON.h:
engine/bytes.h:
engine/err.h:
engine/lifeboat_engine.h:
engine/store.h:
engine/backend.h:
engine/chunkindex.h:
engine/crypto.h:
engine/codec.h:
engine/tree.h:
