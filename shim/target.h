/* target.h: how a call's target is named, the same words in traces, event
 * logs and counters: file:<absolute path>, socket:tcp:<port>,
 * socket:udp:<port>, socket:unix, socket:other, anon, other, syscall:<nr>. */
#ifndef MC_TARGET_H
#define MC_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "fdtable.h"
#include "fmt.h"

enum mc_target_kind {
	MC_TGT_FILE = 1, /* value: path id */
	MC_TGT_TCP,      /* value: service port */
	MC_TGT_UDP,      /* value: service port */
	MC_TGT_UNIX,
	MC_TGT_SOCKET_OTHER,
	MC_TGT_ANON,
	MC_TGT_OTHER,
	MC_TGT_SYSCALL, /* value: system call number */
	MC_TGT_GPU,     /* value: enum mc_gpu_target */
};

/* What a CUDA call did, as trace's GPU section counts it. */
enum mc_gpu_target {
	MC_GPU_DEVICE_MEMORY, /* bytes of device memory allocated */
	MC_GPU_TO_DEVICE,     /* bytes copied host to device */
	MC_GPU_TO_HOST,       /* device to host */
	MC_GPU_ON_DEVICE,     /* device to device */
	MC_GPU_PINNED,        /* pinned host memory allocated */
	MC_GPU_OTHER,         /* launches, frees, init, other copies */
};

/* The target of a call on an fd that fdtable classified as info. */
void mc_target_of_fd(const struct mc_fd_info *info, enum mc_target_kind *ret_kind,
                     uint32_t *ret_value);

/* Appends the target's name; json escapes the path for a JSON string. */
void mc_target_put(struct mc_buf *b, enum mc_target_kind kind, uint32_t value, bool json);

#endif
