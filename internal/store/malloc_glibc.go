//go:build linux && cgo

package store

/*
#include <malloc.h>

// Each SQLite connection frees its whole page cache when it starts a read
// transaction after another connection wrote (WAL mode), and fills it again
// page by page. With glibc's default trim threshold (128 KiB) every such
// free handed the top of the thread's arena back to the kernel (madvise,
// with a TLB shootdown on every CPU) and the refill page-faulted it in
// again: 60 % of the CPU of a claim/release pair. Trimming only what exceeds
// one connection's page cache (16 MiB, cache_size in OpenSQLite) keeps that
// memory for the refill. Setting the trim threshold switches off glibc's
// dynamic mmap threshold, so the mmap threshold is set as well: blocks of
// 4 MiB and more (large documents in libxml2) still come from mmap and go
// back to the kernel when freed.
static void dxhub_tune_malloc(void) {
#if defined(__GLIBC__) && defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}
*/
import "C"

func init() { C.dxhub_tune_malloc() }
