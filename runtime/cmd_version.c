/* cmd_version.c — lifeboat's version and those of the libraries it links. */
#include <cJSON.h>
#include <curl/curl.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include <zstd.h>

#include "cli.h"
#include "commands.h"
#include "version.h"
#include <libxml/xmlversion.h>

static const char help[] =
	"usage: lifeboat version [--json]\n       lifeboat --version\n\n"
	"Prints the version of lifeboat, the store format it writes, and the\n"
	"versions of the libraries it runs with.\n\n"
	"  --json   {\"lifeboat\", \"store_format\", \"libraries\": {name: version}}\n";

int cmd_version(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return EXIT_DONE;
		}
		if (strcmp(argv[i], "--json"))
			return rt_usage("version", "unknown argument '%s'", argv[i]);
		json = true;
	}
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	const struct { const char *name, *label, *version; } libs[] = {
		{ "lua", "", LUA_RELEASE },
		{ "libcurl", "libcurl ", curl->version },
		{ "openssl", "", OpenSSL_version(OPENSSL_VERSION) },
		{ "cjson", "cJSON ", cJSON_Version() },
		{ "zstd", "zstd ", ZSTD_versionString() },
		{ "libyaml", "libyaml ", yaml_get_version_string() },
		{ "libxml2", "libxml2 ", LIBXML_DOTTED_VERSION },
	};
	size_t n = sizeof(libs) / sizeof(libs[0]);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "lifeboat", LIFEBOAT_VERSION);
		cJSON_AddNumberToObject(o, "store_format", ENG_FORMAT_VERSION);
		cJSON *l = cJSON_AddObjectToObject(o, "libraries");
		for (size_t i = 0; i < n; i++)
			cJSON_AddStringToObject(l, libs[i].name, libs[i].version);
		return rt_json_print(o) ? EXIT_DONE : EXIT_FAILED;
	}
	printf("lifeboat %s (store format %d)\n", LIFEBOAT_VERSION, ENG_FORMAT_VERSION);
	for (size_t i = 0; i < n; i++)
		printf("  %s%s\n", libs[i].label, libs[i].version);
	return EXIT_DONE;
}
