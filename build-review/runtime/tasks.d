build-review/runtime/tasks.o: runtime/tasks.c runtime/tasks.h
runtime/tasks.h:
