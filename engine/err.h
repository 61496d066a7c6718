/* err.h — setting an eng_err: every helper returns the status it records,
 * so an error path stays one line: return eng_fail(err, ENG_EIO, "...").   */
#ifndef ENG_ERR_H
#define ENG_ERR_H

#include "lifeboat_engine.h"

int eng_fail(eng_err *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like eng_fail, appending ": strerror(errno)". */
int eng_fail_errno(eng_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
