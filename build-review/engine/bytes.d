build-review/engine/bytes.o: engine/bytes.c engine/bytes.h
engine/bytes.h:
