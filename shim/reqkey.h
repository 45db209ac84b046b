/* reqkey.h: reading HTTP bytes that cross a socket: the request key in what
 * arrives, the status class of what is sent.
 * Pure and bounded: it reads only buf[0, len), at most MC_REQKEY_SCAN_BYTES
 * of it, never writes past MC_REQKEY_MAX bytes, allocates nothing, and is
 * async-signal-safe. The bytes are the network's: untrusted. */
#ifndef MC_REQKEY_H
#define MC_REQKEY_H

#include <stddef.h>

#define MC_REQKEY_MAX        128u   /* longer header values are cut to this */
#define MC_REQKEY_SCAN_BYTES 16384u /* how far into a read the headers are sought */

enum mc_reqkey_result {
	MC_REQKEY_NOTHING,    /* not the start of a request: the current key stays */
	MC_REQKEY_NEW_NO_KEY, /* a request starts here and has no such header */
	MC_REQKEY_FOUND,      /* a request starts here; its key is in ret_key */
};

/* Looks at what one read delivered. A request starts when the bytes begin
 * with an HTTP/1.x request line ("METHOD SP target SP HTTP/1.x"); the header
 * `name` (case-insensitive, name_len bytes) is then sought among the header
 * lines that arrived in this same read. Its value, with surrounding blanks
 * removed, is copied to ret_key (not NUL-terminated) and its length to
 * *ret_len (1..MC_REQKEY_MAX). A header line cut off by the end of the read
 * is not used: the key would depend on how the bytes were split. */
enum mc_reqkey_result mc_reqkey_scan(const char *buf, size_t len, const char *name, size_t name_len,
                                     char ret_key[MC_REQKEY_MAX], size_t *ret_len);

/* The class of an HTTP/1.x response whose first bytes are buf[0, len):
 * 0 for 1xx ... 4 for 5xx, or -1 when the bytes do not start with a status
 * line ("HTTP/1.x DDD"). Reads at most 12 bytes, never past len. */
int mc_http_status_class(const void *buf, size_t len);

#endif
