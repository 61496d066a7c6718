/* err.c — recording failures as values. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int eng_fail(eng_err *err, int status, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->status = status;
	}
	return status;
}

int eng_fail_errno(eng_err *err, const char *fmt, ...)
{
	int e = errno;
	int status = e == ENOMEM ? ENG_ENOMEM : ENG_EIO;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof(err->msg))
			snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(e));
		err->status = status;
	}
	return status;
}

const char *eng_status_name(int status)
{
	switch (status) {
	case ENG_OK: return "ok";
	case ENG_EINPUT: return "bad input";
	case ENG_EFORMAT: return "bad format";
	case ENG_EKEY: return "bad key";
	case ENG_ECORRUPT: return "corrupt";
	case ENG_EIO: return "i/o error";
	case ENG_ENOMEM: return "out of memory";
	case ENG_EBUSY: return "busy";
	case ENG_ECANCEL: return "cancelled";
	case ENG_EEXIST: return "exists";
	}
	return "unknown";
}
