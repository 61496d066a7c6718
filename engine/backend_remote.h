/* backend_remote.h — how backend.c opens each kind of backend. */
#ifndef ENG_BACKEND_REMOTE_H
#define ENG_BACKEND_REMOTE_H

#include <time.h>

#include "backend.h"
#include "url.h"

int eng_local_open(const eng_url *u, bool create, eng_backend **out, eng_err *err);
int eng_s3_open(const eng_url *u, eng_backend **out, eng_err *err);
int eng_az_open(const eng_url *u, eng_backend **out, eng_err *err);
int eng_sftp_open(const eng_url *u, eng_backend **out, eng_err *err);

/* Tests: sign S3 requests as if it were time t (to compare with a reference signer). */
void eng_s3_fix_time(eng_backend *b, time_t t);

#endif
