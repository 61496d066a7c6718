build-review/engine/codec.o: engine/codec.c engine/codec.h \
 engine/crypto.h engine/lifeboat_engine.h engine/err.h
engine/codec.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/err.h:
