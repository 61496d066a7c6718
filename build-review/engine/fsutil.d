build-review/engine/fsutil.o: engine/fsutil.c engine/fsutil.h
engine/fsutil.h:
