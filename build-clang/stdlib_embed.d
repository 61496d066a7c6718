build-clang/stdlib_embed.o: build-clang/stdlib_embed.c runtime/luacore.h

runtime/luacore.h:
