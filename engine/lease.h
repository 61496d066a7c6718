/* lease.h — the store lock of backends that hold nothing but objects.
 *
 * A lease is an object locks/<x|s>-<host>-<pid>-<random>-<n> whose JSON
 * says who holds it (host, pid, the command), since when and until when.
 * A holder puts its lease, then lists the others: an exclusive lease
 * conflicts with every other live lease, so when both see each other both
 * back off (neither proceeds). A thread renews the lease while it is held,
 * each time as a new object <n+1> before <n> is removed, so no backend has
 * to overwrite an object (SFTP cannot) and one of them is always there. A
 * lease whose expiry passed belongs to a process that died or lost the
 * store; so does one whose process is gone on this host. An exclusive taker
 * removes such a lease, with a note naming it. A shared taker that cannot
 * write the store (read-only) proceeds without a lease when no live
 * exclusive lease exists. If a renewal fails for good, the holder's later
 * writes fail: it may no longer rely on the lock. LIFEBOAT_LEASE_SECONDS
 * sets the lifetime (default 120 s; hosts' clocks must agree to a third
 * of it). */
#ifndef ENG_LEASE_H
#define ENG_LEASE_H

#include "backend.h"

int eng_lease_take(eng_backend *b, bool exclusive, const char *op, eng_err *err);
/* True when the held lease could not be refreshed (writes must stop). */
bool eng_lease_lost(const eng_backend *b);
void eng_lease_release(eng_backend *b);

#endif
