build-review/engine/planstate.o: engine/planstate.c \
 /usr/include/cjson/cJSON.h engine/bytes.h engine/envelope.h \
 engine/chunkindex.h engine/crypto.h engine/lifeboat_engine.h \
 engine/codec.h engine/err.h engine/store.h engine/backend.h \
 engine/tree.h
/usr/include/cjson/cJSON.h:
engine/bytes.h:
engine/envelope.h:
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/codec.h:
engine/err.h:
engine/store.h:
engine/backend.h:
engine/tree.h:
