/* sysname.c: names of system calls, for rows of calls made through syscall() (sysname.h).
 * A table of constants: no state, async-signal-safe. Numbers this libc's <sys/syscall.h> does
 * not define on this architecture are left out by the preprocessor. */
#include <stddef.h>
#include <sys/syscall.h>

#include "families.h"
#include "sysname.h"

struct sysname {
	long nr;
	const char *name;
};

#define NAMED(name) { SYS_##name, #name },

/* The calls a program is likely to make through syscall(): I/O, memory, sleeps, sockets,
 * files, threads and processes. Others are shown by number. */
static const struct sysname names[] = {
#ifdef SYS_read
	NAMED(read)
#endif
#ifdef SYS_write
	    NAMED(write)
#endif
#ifdef SYS_open
	        NAMED(open)
#endif
#ifdef SYS_close
	            NAMED(close)
#endif
#ifdef SYS_stat
	                NAMED(stat)
#endif
#ifdef SYS_fstat
	                    NAMED(fstat)
#endif
#ifdef SYS_lstat
	                        NAMED(lstat)
#endif
#ifdef SYS_newfstatat
	                            NAMED(newfstatat)
#endif
#ifdef SYS_statx
	                                NAMED(statx)
#endif
#ifdef SYS_poll
	                                    NAMED(poll)
#endif
#ifdef SYS_ppoll
	                                        NAMED(ppoll)
#endif
#ifdef SYS_lseek
	                                            NAMED(lseek)
#endif
#ifdef SYS_mmap
	                                                NAMED(mmap)
#endif
#ifdef SYS_mprotect
	                                                    NAMED(mprotect)
#endif
#ifdef SYS_munmap
	                                                        NAMED(munmap)
#endif
#ifdef SYS_brk
	                                                            NAMED(brk)
#endif
#ifdef SYS_mremap
	                                                                NAMED(mremap)
#endif
#ifdef SYS_madvise
	                                                                    NAMED(madvise)
#endif
#ifdef SYS_ioctl
	                                                                        NAMED(ioctl)
#endif
#ifdef SYS_pread64
	                                                                            NAMED(pread64)
#endif
#ifdef SYS_pwrite64
	                                                                                NAMED(
	                                                                                    pwrite64)
#endif
#ifdef SYS_readv
	                                                                                    NAMED(
	                                                                                        readv)
#endif
#ifdef SYS_writev
	                                                                                        NAMED(
	                                                                                            writev)
#endif
#ifdef SYS_preadv
	                                                                                            NAMED(
	                                                                                                preadv)
#endif
#ifdef SYS_pwritev
	                                                                                                NAMED(
	                                                                                                    pwritev)
#endif
#ifdef SYS_preadv2
	                                                                                                    NAMED(
	                                                                                                        preadv2)
#endif
#ifdef SYS_pwritev2
	                                                                                                        NAMED(
	                                                                                                            pwritev2)
#endif
#ifdef SYS_access
	                                                                                                            NAMED(
	                                                                                                                access)
#endif
#ifdef SYS_faccessat
	                                                                                                                NAMED(
	                                                                                                                    faccessat)
#endif
#ifdef SYS_faccessat2
	                                                                                                                    NAMED(
	                                                                                                                        faccessat2)
#endif
#ifdef SYS_pipe
	                                                                                                                        NAMED(
	                                                                                                                            pipe)
#endif
#ifdef SYS_pipe2
	                                                                                                                            NAMED(
	                                                                                                                                pipe2)
#endif
#ifdef SYS_select
	                                                                                                                                NAMED(
	                                                                                                                                    select)
#endif
#ifdef SYS_pselect6
	                                                                                                                                    NAMED(
	                                                                                                                                        pselect6)
#endif
#ifdef SYS_sched_yield
	                                                                                                                                        NAMED(
	                                                                                                                                            sched_yield)
#endif
#ifdef SYS_dup
	                                                                                                                                            NAMED(
	                                                                                                                                                dup)
#endif
#ifdef SYS_dup2
	                                                                                                                                                NAMED(
	                                                                                                                                                    dup2)
#endif
#ifdef SYS_dup3
	                                                                                                                                                    NAMED(
	                                                                                                                                                        dup3)
#endif
#ifdef SYS_nanosleep
	                                                                                                                                                        NAMED(
	                                                                                                                                                            nanosleep)
#endif
#ifdef SYS_clock_nanosleep
	                                                                                                                                                            NAMED(
	                                                                                                                                                                clock_nanosleep)
#endif
#ifdef SYS_clock_gettime
	                                                                                                                                                                NAMED(
	                                                                                                                                                                    clock_gettime)
#endif
#ifdef SYS_getpid
	                                                                                                                                                                    NAMED(
	                                                                                                                                                                        getpid)
#endif
#ifdef SYS_getppid
	                                                                                                                                                                        NAMED(
	                                                                                                                                                                            getppid)
#endif
#ifdef SYS_gettid
	                                                                                                                                                                            NAMED(
	                                                                                                                                                                                gettid)
#endif
#ifdef SYS_sendfile
	                                                                                                                                                                                NAMED(
	                                                                                                                                                                                    sendfile)
#endif
#ifdef SYS_splice
	                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                        splice)
#endif
#ifdef SYS_tee
	                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                            tee)
#endif
#ifdef SYS_copy_file_range
	                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                copy_file_range)
#endif
#ifdef SYS_socket
	                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                    socket)
#endif
#ifdef SYS_socketpair
	                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                        socketpair)
#endif
#ifdef SYS_connect
	                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                            connect)
#endif
#ifdef SYS_accept
	                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                accept)
#endif
#ifdef SYS_accept4
	                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                    accept4)
#endif
#ifdef SYS_sendto
	                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                        sendto)
#endif
#ifdef SYS_recvfrom
	                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                            recvfrom)
#endif
#ifdef SYS_sendmsg
	                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                sendmsg)
#endif
#ifdef SYS_recvmsg
	                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                    recvmsg)
#endif
#ifdef SYS_sendmmsg
	                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                        sendmmsg)
#endif
#ifdef SYS_recvmmsg
	                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                            recvmmsg)
#endif
#ifdef SYS_shutdown
	                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                shutdown)
#endif
#ifdef SYS_bind
	                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                    bind)
#endif
#ifdef SYS_listen
	                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                        listen)
#endif
#ifdef SYS_getsockname
	                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                            getsockname)
#endif
#ifdef SYS_getpeername
	                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                getpeername)
#endif
#ifdef SYS_setsockopt
	                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                    setsockopt)
#endif
#ifdef SYS_getsockopt
	                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                        getsockopt)
#endif
#ifdef SYS_clone
	                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                            clone)
#endif
#ifdef SYS_clone3
	                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                clone3)
#endif
#ifdef SYS_fork
	                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                    fork)
#endif
#ifdef SYS_vfork
	                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                        vfork)
#endif
#ifdef SYS_execve
	                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                            execve)
#endif
#ifdef SYS_execveat
	                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                execveat)
#endif
#ifdef SYS_exit
	                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                    exit)
#endif
#ifdef SYS_exit_group
	                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                        exit_group)
#endif
#ifdef SYS_wait4
	                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                            wait4)
#endif
#ifdef SYS_waitid
	                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                waitid)
#endif
#ifdef SYS_kill
	                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                    kill)
#endif
#ifdef SYS_tgkill
	                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                        tgkill)
#endif
#ifdef SYS_fcntl
	                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                            fcntl)
#endif
#ifdef SYS_flock
	                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                flock)
#endif
#ifdef SYS_fsync
	                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                    fsync)
#endif
#ifdef SYS_fdatasync
	                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                        fdatasync)
#endif
#ifdef SYS_ftruncate
	                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                            ftruncate)
#endif
#ifdef SYS_fallocate
	                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                fallocate)
#endif
#ifdef SYS_getdents64
	                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                    getdents64)
#endif
#ifdef SYS_getcwd
	                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                        getcwd)
#endif
#ifdef SYS_chdir
	                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                            chdir)
#endif
#ifdef SYS_rename
	                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                rename)
#endif
#ifdef SYS_renameat
	                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                    renameat)
#endif
#ifdef SYS_renameat2
	                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                        renameat2)
#endif
#ifdef SYS_mkdir
	                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                            mkdir)
#endif
#ifdef SYS_mkdirat
	                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                mkdirat)
#endif
#ifdef SYS_rmdir
	                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                    rmdir)
#endif
#ifdef SYS_unlink
	                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                        unlink)
#endif
#ifdef SYS_unlinkat
	                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                            unlinkat)
#endif
#ifdef SYS_readlink
	                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                readlink)
#endif
#ifdef SYS_readlinkat
	                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                    readlinkat)
#endif
#ifdef SYS_open_tree
	                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                        open_tree)
#endif
#ifdef SYS_openat
	                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                            openat)
#endif
#ifdef SYS_openat2
	                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                openat2)
#endif
#ifdef SYS_close_range
	                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                    close_range)
#endif
#ifdef SYS_futex
	                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                        futex)
#endif
#ifdef SYS_getrandom
	                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                            getrandom)
#endif
#ifdef SYS_epoll_create1
	                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                epoll_create1)
#endif
#ifdef SYS_epoll_ctl
	                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                    epoll_ctl)
#endif
#ifdef SYS_epoll_wait
	                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                        epoll_wait)
#endif
#ifdef SYS_epoll_pwait
	                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                            epoll_pwait)
#endif
#ifdef SYS_epoll_pwait2
	                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                epoll_pwait2)
#endif
#ifdef SYS_eventfd2
	                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                    eventfd2)
#endif
#ifdef SYS_timerfd_create
	                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                        timerfd_create)
#endif
#ifdef SYS_timerfd_settime
	                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                            timerfd_settime)
#endif
#ifdef SYS_inotify_add_watch
	                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                inotify_add_watch)
#endif
#ifdef SYS_io_uring_setup
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                    io_uring_setup)
#endif
#ifdef SYS_io_uring_enter
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                        io_uring_enter)
#endif
#ifdef SYS_io_uring_register
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                            io_uring_register)
#endif
#ifdef SYS_io_setup
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                io_setup)
#endif
#ifdef SYS_io_submit
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    io_submit)
#endif
#ifdef SYS_io_getevents
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        io_getevents)
#endif
#ifdef SYS_memfd_create
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            memfd_create)
#endif
#ifdef SYS_membarrier
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                membarrier)
#endif
#ifdef SYS_rseq
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    rseq)
#endif
#ifdef SYS_sched_getaffinity
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        sched_getaffinity)
#endif
#ifdef SYS_sched_setaffinity
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            sched_setaffinity)
#endif
#ifdef SYS_prctl
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                prctl)
#endif
#ifdef SYS_arch_prctl
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    arch_prctl)
#endif
#ifdef SYS_set_robust_list
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        set_robust_list)
#endif
#ifdef SYS_set_tid_address
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            set_tid_address)
#endif
#ifdef SYS_prlimit64
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                prlimit64)
#endif
#ifdef SYS_getrlimit
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    getrlimit)
#endif
#ifdef SYS_getuid
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        getuid)
#endif
#ifdef SYS_geteuid
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            geteuid)
#endif
#ifdef SYS_getgid
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                getgid)
#endif
#ifdef SYS_getegid
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    getegid)
#endif
#ifdef SYS_uname
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        uname)
#endif
#ifdef SYS_sysinfo
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            sysinfo)
#endif
#ifdef SYS_mlock
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                mlock)
#endif
#ifdef SYS_munlock
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    munlock)
#endif
#ifdef SYS_rt_sigaction
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        rt_sigaction)
#endif
#ifdef SYS_rt_sigprocmask
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            rt_sigprocmask)
#endif
#ifdef SYS_rt_sigreturn
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                rt_sigreturn)
#endif
#ifdef SYS_sigaltstack
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    sigaltstack)
#endif
#ifdef SYS_capget
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                    NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        capget)
#endif
#ifdef SYS_capset
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        NAMED(
	                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            capset)
#endif
};
#undef NAMED

const char *mc_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}

bool mc_syscall_bypasses_hooks(long nr)
{
#define FAMILY_CALL(family, number) number,
#define AROUND_CALL(number)         number,
	static const long bypass[] = { MC_FAMILY_SYSCALLS(FAMILY_CALL)
		                           MC_AROUND_LIBC_SYSCALLS(AROUND_CALL) };
#undef FAMILY_CALL
#undef AROUND_CALL
	for (size_t i = 0; i < sizeof(bypass) / sizeof(bypass[0]); i++)
		if (nr != MC_SYS_MISSING && nr == bypass[i])
			return true;
	return false;
}
