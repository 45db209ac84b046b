/* fmt.c: the text builders of fmt.h. No allocation, no locale, no stdio:
 * callable from a signal handler and from inside malloc. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "fmt.h"
#include "real.h"

void mc_buf_putn(struct mc_buf *b, const char *s, size_t n)
{
	if (b->cap == 0)
		return;
	size_t room = b->cap - 1 - b->len;
	if (n > room) {
		n = room;
		b->truncated = true;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void mc_buf_puts(struct mc_buf *b, const char *s)
{
	mc_buf_putn(b, s, strlen(s));
}

void mc_buf_putc(struct mc_buf *b, char c)
{
	mc_buf_putn(b, &c, 1);
}

static size_t u64_digits(uint64_t v, char out[20])
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void mc_buf_u64(struct mc_buf *b, uint64_t v)
{
	char d[20];
	mc_buf_putn(b, d, u64_digits(v, d));
}

void mc_buf_i64(struct mc_buf *b, int64_t v)
{
	if (v < 0) {
		mc_buf_putc(b, '-');
		mc_buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		mc_buf_u64(b, (uint64_t)v);
	}
}

static void pad(struct mc_buf *b, size_t n)
{
	while (n--)
		mc_buf_putc(b, ' ');
}

void mc_buf_u64_w(struct mc_buf *b, uint64_t v, int width)
{
	char d[20];
	size_t n = u64_digits(v, d);
	size_t w = (size_t)(width < 0 ? -width : width);
	if (width > 0 && n < w)
		pad(b, w - n);
	mc_buf_putn(b, d, n);
	if (width < 0 && n < w)
		pad(b, w - n);
}

void mc_buf_str_w(struct mc_buf *b, const char *s, int width)
{
	size_t n = strlen(s);
	size_t w = (size_t)(width < 0 ? -width : width);
	if (width > 0 && n < w)
		pad(b, w - n);
	mc_buf_putn(b, s, n);
	if (width < 0 && n < w)
		pad(b, w - n);
}

void mc_buf_json_str(struct mc_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t len = 1;
		esc[0] = (char)c;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			len = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			len = 6;
		}
		if (b->cap == 0 || b->len + len > b->cap - 1) {
			b->truncated = true; /* never half an escape: the JSON stays valid */
			return;
		}
		mc_buf_putn(b, esc, len);
	}
}

int mc_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = mc_real.write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The file size limit, read once; RLIM_INFINITY on most systems. */
static rlim_t fsize_limit(void)
{
	static _Atomic rlim_t cached; /* 0: not read yet */
	rlim_t v = atomic_load_explicit(&cached, memory_order_relaxed);
	if (v == 0) {
		struct rlimit rl;
		v = getrlimit(RLIMIT_FSIZE, &rl) == 0 ? rl.rlim_cur : RLIM_INFINITY;
		if (v == 0)
			v = 1; /* a zero limit: nothing fits */
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v;
}

static int append_limited(int fd, const char *p, size_t n, rlim_t limit)
{
	struct stat st;
	if (mc_real.fstat(fd, &st) != 0)
		return -errno;
	if ((uint64_t)st.st_size + n > (uint64_t)limit)
		return -EFBIG; /* would be cut and raise SIGXFSZ: drop it whole */
	sigset_t xfsz, old;
	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, &old);
	ssize_t w;
	do
		w = mc_real.write(fd, p, n);
	while (w < 0 && errno == EINTR);
	int err = w < 0 ? errno : 0;
	if (w >= 0 && (size_t)w < n && mc_real.fstat(fd, &st) == 0 && st.st_size >= w)
		(void)ftruncate(fd, st.st_size - w); /* roll back the torn tail */
	sigset_t pending;
	struct timespec zero = { 0, 0 };
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ) &&
	    !sigismember(&old, SIGXFSZ))
		sigtimedwait(&xfsz, NULL, &zero); /* ours: consume it before unblocking */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (w < 0)
		return -err;
	return (size_t)w == n ? 0 : -ENOSPC;
}

int mc_append_line(int fd, const char *p, size_t n)
{
	int saved = errno;
	int r;
	rlim_t limit = fsize_limit();
	if (limit != RLIM_INFINITY) {
		r = append_limited(fd, p, n, limit);
	} else {
		ssize_t w;
		do
			w = mc_real.write(fd, p, n);
		while (w < 0 && errno == EINTR);
		r = w < 0 ? -errno : 0;
		if (w >= 0 && (size_t)w < n) {
			struct stat st; /* a full disk cut the line: take it back */
			if (mc_real.fstat(fd, &st) == 0 && st.st_size >= w)
				(void)ftruncate(fd, st.st_size - w);
			r = -ENOSPC;
		}
	}
	errno = saved;
	return r;
}

void mc_say(const char *msg)
{
	char line[1024];
	struct mc_buf b;
	int saved = errno;
	mc_buf_init(&b, line, sizeof(line));
	mc_buf_puts(&b, "mlchaos: ");
	mc_buf_puts(&b, msg);
	if (b.truncated)
		b.len = sizeof(line) - 2;
	line[b.len++] = '\n';
	(void)mc_write_all(2, line, b.len);
	errno = saved;
}

void mc_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}
