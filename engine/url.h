/* url.h — store URLs, parsed in one place. A store is named by a path
 * (or file://PATH), s3://BUCKET[/PREFIX], az://CONTAINER[/PREFIX]
 * (azure:// too) or sftp://USER@HOST[:PORT]/PATH. Credentials never go in
 * a URL: they come from the environment (see each backend). */
#ifndef ENG_URL_H
#define ENG_URL_H

#include <stdbool.h>

#include "lifeboat_engine.h"

typedef struct eng_url {
	char scheme[8];      /* file, s3, az, sftp */
	char user[64];       /* sftp */
	char host[256];      /* sftp */
	int port;            /* sftp; 0: the default */
	char bucket[64];     /* s3 bucket, az container */
	char path[4096];     /* file and sftp: the folder; s3, az: the prefix ("" or "a/b", no slashes at the ends) */
} eng_url;

/* Parses text; on failure err says what is wrong with it (ENG_EINPUT). */
int eng_url_parse(const char *text, eng_url *u, eng_err *err);
/* True when text names a remote store (has a scheme other than file://). */
bool eng_url_is_remote(const char *text);

#endif
