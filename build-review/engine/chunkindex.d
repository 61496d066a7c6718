build-review/engine/chunkindex.o: engine/chunkindex.c engine/chunkindex.h \
 engine/crypto.h engine/lifeboat_engine.h engine/bytes.h
engine/chunkindex.h:
engine/crypto.h:
engine/lifeboat_engine.h:
engine/bytes.h:
