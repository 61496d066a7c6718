/* testhelp.h — a tiny TAP producer for the C unit tests: each check prints
 * "ok N - what" or "not ok N - what (file:line)"; the runner counts them. */
#ifndef TESTHELP_H
#define TESTHELP_H

#include <stdio.h>

static int th_n, th_failed;

#define CHECK(cond, what) do { \
	th_n++; \
	if (cond) printf("ok %d - %s\n", th_n, what); \
	else { th_failed++; printf("not ok %d - %s (%s:%d)\n", th_n, what, __FILE__, __LINE__); } \
} while (0)

#define TEST_DONE() (printf("1..%d\n", th_n), th_failed ? 1 : 0)

#endif
