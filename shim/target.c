/* target.c: names of call targets (target.h). Async-signal-safe. */
#include "target.h"

void mc_target_of_fd(const struct mc_fd_info *info, enum mc_target_kind *ret_kind,
                     uint32_t *ret_value)
{
	*ret_value = 0;
	switch (info->kind) {
	case MC_FD_FILE:
		*ret_kind = MC_TGT_FILE;
		*ret_value = info->path_id;
		break;
	case MC_FD_TCP:
		*ret_kind = MC_TGT_TCP;
		*ret_value = mc_fd_service_port(info);
		break;
	case MC_FD_UDP:
		*ret_kind = MC_TGT_UDP;
		*ret_value = mc_fd_service_port(info);
		break;
	case MC_FD_UNIX:
		*ret_kind = MC_TGT_UNIX;
		break;
	case MC_FD_SOCKET_OTHER:
		*ret_kind = MC_TGT_SOCKET_OTHER;
		break;
	default:
		*ret_kind = MC_TGT_OTHER;
		break;
	}
}

void mc_target_put(struct mc_buf *b, enum mc_target_kind kind, uint32_t value, bool json)
{
	switch (kind) {
	case MC_TGT_FILE: {
		const char *p = mc_path_of(value);
		mc_buf_puts(b, "file:");
		if (!p)
			mc_buf_putc(b, '?');
		else if (json)
			mc_buf_json_str(b, p, mc_path_len(value));
		else
			mc_buf_puts(b, p);
		break;
	}
	case MC_TGT_TCP:
		mc_buf_puts(b, "socket:tcp:");
		mc_buf_u64(b, value);
		break;
	case MC_TGT_UDP:
		mc_buf_puts(b, "socket:udp:");
		mc_buf_u64(b, value);
		break;
	case MC_TGT_UNIX:
		mc_buf_puts(b, "socket:unix");
		break;
	case MC_TGT_SOCKET_OTHER:
		mc_buf_puts(b, "socket:other");
		break;
	case MC_TGT_ANON:
		mc_buf_puts(b, "anon");
		break;
	case MC_TGT_SYSCALL:
		mc_buf_puts(b, "syscall:");
		mc_buf_u64(b, value);
		break;
	case MC_TGT_GPU: {
		static const char *const gpu[] = {
			[MC_GPU_DEVICE_MEMORY] = "gpu:device-memory",
			[MC_GPU_TO_DEVICE] = "gpu:host-to-device",
			[MC_GPU_TO_HOST] = "gpu:device-to-host",
			[MC_GPU_ON_DEVICE] = "gpu:device-to-device",
			[MC_GPU_PINNED] = "gpu:pinned-memory",
			[MC_GPU_OTHER] = "gpu:other",
		};
		mc_buf_puts(b, value <= MC_GPU_OTHER ? gpu[value] : "gpu:other");
		break;
	}
	default:
		mc_buf_puts(b, "other");
		break;
	}
}
