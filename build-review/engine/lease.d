build-review/engine/lease.o: engine/lease.c engine/lease.h \
 engine/backend.h engine/lifeboat_engine.h /usr/include/cjson/cJSON.h \
 engine/bytes.h engine/crypto.h engine/err.h
engine/lease.h:
engine/backend.h:
engine/lifeboat_engine.h:
/usr/include/cjson/cJSON.h:
engine/bytes.h:
engine/crypto.h:
engine/err.h:
