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

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: lifeboat version\n       lifeboat --version\n\n"
		       "Prints the version of lifeboat, its store format, and the libraries it uses.\n");
		return EXIT_DONE;
	}
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	printf("lifeboat %s (store format %d)\n", LIFEBOAT_VERSION, ENG_FORMAT_VERSION);
	printf("  %s\n", LUA_RELEASE);
	printf("  libcurl %s\n", curl->version);
	printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("  cJSON %s\n", cJSON_Version());
	printf("  zstd %s\n", ZSTD_versionString());
	printf("  libyaml %s\n", yaml_get_version_string());
	printf("  libxml2 %s\n", LIBXML_DOTTED_VERSION);
	return EXIT_DONE;
}
