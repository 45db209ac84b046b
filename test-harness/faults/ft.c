/* ft.c: the fault tests' framework (ft.h). Messages go through vsnprintf into stack buffers
 * and write(2), never stdio's buffers or malloc, so that a child under a malloc or write rule
 * can still report; the parent side, never preloaded, allocates freely. */
#include "ft.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHILD_TIMEOUT_S 50 /* below the tests' meson timeouts */
#define MSG_MAX         1024
#define MAX_KEPT        256

static int failures;
static const char *prog = "ft";
static char self_exe[PATH_MAX];
static const char *lib_path;
static const char *mlchaos_path;
static const char *preload_before;
static char test_dir[PATH_MAX];
static char *kept[MAX_KEPT]; /* strings handed out for the current test */
static int nkept;
static int run_serial;

/* ---- messages ---------------------------------------------------------------------------- */

static void put_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char line[MSG_MAX];
	int saved = errno;
	int off = snprintf(line, sizeof(line), "%s", prefix);
	if (off < 0 || (size_t)off >= sizeof(line))
		off = 0;
	int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
	size_t len = (size_t)off + (n < 0 ? 0 : (size_t)n);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	put_all(STDERR_FILENO, line, len);
	errno = saved;
}

void ft_fail(const char *file, int line, const char *fmt, ...)
{
	char prefix[PATH_MAX + 64];
	va_list ap;
	const char *slash = strrchr(file, '/');
	snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", slash ? slash + 1 : file, line, prog);
	va_start(ap, fmt);
	vmessage(prefix, fmt, ap);
	va_end(ap);
	failures++;
}

void ft_note(const char *fmt, ...)
{
	char prefix[128];
	va_list ap;
	snprintf(prefix, sizeof(prefix), "%s: ", prog);
	va_start(ap, fmt);
	vmessage(prefix, fmt, ap);
	va_end(ap);
}

int ft_failures(void)
{
	return failures;
}

bool ft_sanitized(void)
{
	return preload_before != NULL;
}

const char *ft_lib(void)
{
	return lib_path;
}

const char *ft_mlchaos(void)
{
	return mlchaos_path;
}

/* ---- parent: files ------------------------------------------------------------------------ */

static char *keep(char *s)
{
	if (!s) {
		ft_note("out of memory");
		exit(2);
	}
	if (nkept < MAX_KEPT)
		kept[nkept++] = s;
	return s;
}

const char *ft_dir(void)
{
	return test_dir;
}

const char *ft_path(const char *name)
{
	size_t n = strlen(test_dir) + 1 + strlen(name) + 1;
	char *p = keep(malloc(n));
	snprintf(p, n, "%s/%s", test_dir, name);
	return p;
}

static void write_or_die(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ft_write_full(fd, data, len) != len || close(fd) != 0) {
		ft_note("cannot write %s: %s", path, strerror(errno));
		exit(2);
	}
}

const char *ft_write(const char *name, const void *data, size_t len)
{
	const char *path = ft_path(name);
	write_or_die(path, data, len);
	return path;
}

void ft_models_tree(void)
{
	mkdir(ft_path("models"), 0700);
	mkdir(ft_path("elsewhere"), 0700);
	ft_write("models/current.bin", "current\n", 8);
	ft_write("models/previous.bin", "previous\n", 9);
	ft_write("models/other.bin", "other\n", 6);
	ft_write("models/a.txt", "text\n", 5);
	ft_write("elsewhere/a.bin", "elsewhere\n", 10);
}

void ft_run_child(const char *cfg, const char *name, const char *param)
{
	struct ft_run r = { .how = FT_PRELOAD, .config = cfg };
	ft_run(&r, name, ft_dir(), param, NULL);
	FT_RUN_OK(&r);
	ft_run_free(&r);
}

const char *ft_config(const char *name, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		ft_note("out of memory");
		exit(2);
	}
	const char *path = ft_write(name, text, (size_t)n);
	free(text);
	return path;
}

char *ft_slurp(const char *path, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf)
			break;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (buf) {
		buf[len] = '\0';
		if (ret_len)
			*ret_len = len;
	}
	return buf;
}

const char *ft_pattern_file(const char *name, size_t n)
{
	uint8_t *data = malloc(n ? n : 1);
	if (!data) {
		ft_note("out of memory");
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		data[i] = ft_pattern(i);
	const char *path = ft_write(name, data, n);
	free(data);
	return path;
}

bool ft_pattern_file_intact(const char *path, size_t n)
{
	size_t len = 0;
	char *data = ft_slurp(path, &len);
	bool ok = data && len == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = (uint8_t)data[i] == ft_pattern(i);
	free(data);
	return ok;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void test_begin(void)
{
	const char *tmp = getenv("TMPDIR");
	char templ[PATH_MAX];
	snprintf(templ, sizeof(templ), "%s/mlchaos-faults-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(templ) || !realpath(templ, test_dir)) {
		ft_note("cannot create a temporary directory: %s", strerror(errno));
		exit(2);
	}
}

static void test_end(void)
{
	if (!getenv("FT_KEEP"))
		nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		ft_note("kept %s", test_dir);
	for (int i = 0; i < nkept; i++)
		free(kept[i]);
	nkept = 0;
	test_dir[0] = '\0';
}

/* ---- parent: runs ------------------------------------------------------------------------ */

static bool ours(const char *var)
{
	return strncmp(var, "LD_PRELOAD=", 11) == 0 || strncmp(var, "MLCHAOS_", 8) == 0;
}

/* The child's environment: ours without LD_PRELOAD and MLCHAOS_*, then what r asks. */
static char **child_env(const struct ft_run *r)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 4, sizeof(char *));
	size_t k = 0;
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!ours(environ[i]))
			env[k++] = environ[i];
	if (r->how == FT_PRELOAD) {
		char *v = NULL;
		if (asprintf(&v, "LD_PRELOAD=%s%s%s", preload_before ? preload_before : "",
		             preload_before ? ":" : "", lib_path) >= 0)
			env[k++] = keep(v);
	} else if (r->how == FT_MLCHAOS_RUN) {
		char *v = NULL;
		if (asprintf(&v, "MLCHAOS_LIB=%s", lib_path) >= 0)
			env[k++] = keep(v);
		if (preload_before && asprintf(&v, "LD_PRELOAD=%s", preload_before) >= 0)
			env[k++] = keep(v);
	}
	if (r->config && r->how == FT_PRELOAD) {
		char *v = NULL;
		if (asprintf(&v, "MLCHAOS_CONFIG=%s", r->config) >= 0)
			env[k++] = keep(v);
	}
	env[k] = NULL;
	return env;
}

static void exec_child(const struct ft_run *r, const char *path, char *const *argv, char **env,
                       const char *out, const char *err)
{
	int in = open(r->stdin_path ? r->stdin_path : "/dev/null", O_RDONLY);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	int e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		_exit(126);
	execve(path, argv, env);
	_exit(127);
}

static int wait_child(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ft_note("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	return status;
}

/* Starts argv (path is what to execute) with r's environment; stdout and stderr go to files
 * of the test directory, opened O_APPEND so that threads' lines never overwrite each other. */
static pid_t start_argv(struct ft_run *r, const char *path, char **argv)
{
	int serial = ++run_serial;
	snprintf(r->out_path, sizeof(r->out_path), "%s/.run%d.out", test_dir, serial);
	snprintf(r->err_path, sizeof(r->err_path), "%s/.run%d.err", test_dir, serial);
	char **env = child_env(r);
	if (!env) {
		ft_note("out of memory");
		exit(2);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		ft_note("fork: %s", strerror(errno));
		exit(2);
	}
	if (pid == 0)
		exec_child(r, path, argv, env, r->out_path, r->err_path);
	free(env);
	return pid;
}

int ft_finish(struct ft_run *r, pid_t pid)
{
	r->status = wait_child(pid);
	r->out = ft_slurp(r->out_path, &r->out_len);
	r->err = ft_slurp(r->err_path, &r->err_len);
	if (!r->out)
		r->out = calloc(1, 1);
	if (!r->err)
		r->err = calloc(1, 1);
	unlink(r->out_path);
	unlink(r->err_path);
	if (WIFSIGNALED(r->status))
		return 128 + WTERMSIG(r->status);
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

static int run_argv(struct ft_run *r, const char *path, char **argv)
{
	return ft_finish(r, start_argv(r, path, argv));
}

#define MAX_ARGS 64

/* The command line of child `name`: argv (at least MAX_ARGS + 8 entries); returns the path
 * to execute. */
static const char *child_argv(struct ft_run *r, char **argv, const char *name, va_list ap)
{
	int k = 0;
	if (r->how == FT_MLCHAOS_RUN) {
		argv[k++] = (char *)mlchaos_path;
		argv[k++] = "run";
		argv[k++] = "-q";
		if (r->config) {
			argv[k++] = "-c";
			argv[k++] = (char *)r->config;
		}
		argv[k++] = "--";
	}
	/* The program itself; the library reads argv[0] as given (process = globs). */
	argv[k++] = r->argv0 && r->how != FT_MLCHAOS_RUN ? (char *)r->argv0 : self_exe;
	argv[k++] = "--child";
	argv[k++] = (char *)name;
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && k < MAX_ARGS)
		argv[k++] = (char *)a;
	argv[k] = NULL;
	return r->how == FT_MLCHAOS_RUN ? mlchaos_path : self_exe;
}

int ft_run(struct ft_run *r, const char *name, ...)
{
	char *argv[MAX_ARGS + 8];
	va_list ap;
	va_start(ap, name);
	const char *path = child_argv(r, argv, name, ap);
	va_end(ap);
	return run_argv(r, path, argv);
}

pid_t ft_start(struct ft_run *r, const char *name, ...)
{
	char *argv[MAX_ARGS + 8];
	va_list ap;
	va_start(ap, name);
	const char *path = child_argv(r, argv, name, ap);
	va_end(ap);
	return start_argv(r, path, argv);
}

int ft_run_cmd(struct ft_run *r)
{
	char *argv[MAX_ARGS + 1];
	int k = 0;
	for (; r->cmd[k] && k < MAX_ARGS; k++)
		argv[k] = (char *)r->cmd[k];
	argv[k] = NULL;
	return run_argv(r, argv[0], argv);
}

void ft_run_ok(const char *file, int line, const struct ft_run *r)
{
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return;
	if (WIFSIGNALED(r->status))
		ft_fail(file, line, "the child was killed by signal %d", WTERMSIG(r->status));
	else
		ft_fail(file, line, "the child exited %d", WEXITSTATUS(r->status));
	ft_note("its stderr:\n%s", r->err ? r->err : "");
}

void ft_run_free(struct ft_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* ---- both sides ---------------------------------------------------------------------------- */

uint64_t ft_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ft_listen_tcp(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		ft_note("cannot listen on 127.0.0.1: %s", strerror(errno));
		exit(2);
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

void ft_tcp_pair(int lfd, int port, int *ret_client, int *ret_server)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                 .sin_port = htons((uint16_t)port) };
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0) {
		ft_note("cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
		exit(2);
	}
	int s = accept(lfd, NULL, NULL);
	if (s < 0) {
		ft_note("accept: %s", strerror(errno));
		exit(2);
	}
	*ret_client = c;
	*ret_server = s;
}

size_t ft_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

size_t ft_write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t w = write(fd, (const char *)buf + put, n - put);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		put += (size_t)w;
	}
	return put;
}

long long ft_arg_ll(int argc, char **argv, int i)
{
	char *end = NULL;
	if (i >= argc) {
		ft_note("child %s: argument %d missing", argv[0], i);
		exit(2);
	}
	errno = 0;
	long long v = strtoll(argv[i], &end, 0);
	if (errno || !end || *end || end == argv[i]) {
		ft_note("child %s: bad number '%s'", argv[0], argv[i]);
		exit(2);
	}
	return v;
}

/* ---- entry ---------------------------------------------------------------------------------- */

static int usage(void)
{
	ft_note("usage: %s --lib LIB --mlchaos MLCHAOS [--preload-before SO] [--skip WHY] "
	        "[--except TEST]... [TEST...]",
	        prog);
	return 2;
}

#define MAX_EXCEPT 16
static const char *excepted[MAX_EXCEPT];
static int nexcept;

static int child_main(int argc, char **argv, const struct ft_child *children)
{
	alarm(CHILD_TIMEOUT_S); /* a hung child dies, and its parent reports it */
	for (const struct ft_child *c = children; c->name; c++) {
		if (strcmp(c->name, argv[0]) == 0) {
			c->fn(argc, argv);
			return failures ? 1 : 0;
		}
	}
	ft_note("no child named '%s'", argv[0]);
	return 2;
}

static bool wanted(const char *name, int argc, char **argv, int first)
{
	for (int i = 0; i < nexcept; i++)
		if (strcmp(excepted[i], name) == 0)
			return false;
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

static int parent_main(int argc, char **argv, int first, const struct ft_test *tests)
{
	int failed = 0, ran = 0;
	for (const struct ft_test *t = tests; t->name; t++) {
		if (!wanted(t->name, argc, argv, first))
			continue;
		int before = failures;
		uint64_t t0 = ft_now_ns();
		test_begin();
		t->fn();
		test_end();
		ran++;
		bool ok = failures == before;
		failed += !ok;
		printf("%s %s (%.2f s)\n", ok ? "ok  " : "FAIL", t->name,
		       (double)(ft_now_ns() - t0) / 1e9);
		fflush(stdout);
	}
	if (ran == 0) {
		ft_note("no test ran");
		return 2;
	}
	printf("%s: %d of %d tests failed\n", prog, failed, ran);
	return failed ? 1 : 0;
}

int ft_main(int argc, char **argv, const struct ft_test *tests, const struct ft_child *children)
{
	const char *slash = strrchr(argv[0], '/');
	prog = slash ? slash + 1 : argv[0];
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0) {
		ft_note("cannot read /proc/self/exe");
		return 2;
	}
	self_exe[n] = '\0';
	if (argc >= 3 && strcmp(argv[1], "--child") == 0)
		return child_main(argc - 2, argv + 2, children);
	const char *skip = NULL;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--lib") == 0)
			lib_path = argv[i + 1];
		else if (strcmp(argv[i], "--mlchaos") == 0)
			mlchaos_path = argv[i + 1];
		else if (strcmp(argv[i], "--preload-before") == 0)
			preload_before = argv[i + 1];
		else if (strcmp(argv[i], "--skip") == 0)
			skip = argv[i + 1];
		else if (strcmp(argv[i], "--except") == 0 && nexcept < MAX_EXCEPT)
			excepted[nexcept++] = argv[i + 1];
		else
			return usage();
	}
	if (skip) {
		ft_note("skipped: %s", skip);
		return 77;
	}
	if (!lib_path || !mlchaos_path)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	return parent_main(argc, argv, i, tests);
}
