/* embed.c — build tool: writes a C file holding the given stdlib/ Lua
 * files as the rt_stdlib table (module name, bytes, length).
 * usage: embed OUT.c stdlib/a/b.lua ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: embed OUT.c FILE...\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	fprintf(out, "/* generated from stdlib/ by runtime/tools/embed.c */\n#include \"luacore.h\"\n\n");
	for (int i = 2; i < argc; i++) {
		FILE *in = fopen(argv[i], "rb");
		if (!in) {
			perror(argv[i]);
			return 1;
		}
		fprintf(out, "static const char file%d[] = {", i);
		int c;
		size_t n = 0;
		while ((c = fgetc(in)) != EOF)
			fprintf(out, "%s%d,", n++ % 24 ? "" : "\n", c);
		fprintf(out, "0};\n");
		fclose(in);
	}
	fprintf(out, "\nconst rt_embedded rt_stdlib[] = {\n");
	for (int i = 2; i < argc; i++) {
		const char *name = argv[i];
		if (!strncmp(name, "stdlib/", 7))
			name += 7;
		fprintf(out, "\t{ \"");
		size_t len = strlen(name);
		if (len > 4 && !strcmp(name + len - 4, ".lua"))
			len -= 4;
		for (size_t k = 0; k < len; k++)
			fputc(name[k] == '/' ? '.' : name[k], out);
		fprintf(out, "\", file%d, sizeof(file%d) - 1 },\n", i, i);
	}
	fprintf(out, "\t{ 0, 0, 0 }\n};\nconst size_t rt_stdlib_count = %d;\n", argc - 2);
	return fclose(out) ? 1 : 0;
}
