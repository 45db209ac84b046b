/* cudaerr.c: the CUDA errors a rule of the CUDA families can fail a call with. The numbers
 * are the current ones (CUDA 10.1 and later), the same in the runtime API (cudaError_t) and
 * the driver API (CUresult): an illegal address is 700 in both. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
	const char *name;
	int code;
} cuda_errors[] = {
	{ "out_of_memory", 2 },     /* cudaErrorMemoryAllocation, CUDA_ERROR_OUT_OF_MEMORY */
	{ "no_device", 100 },       /* cudaErrorNoDevice, CUDA_ERROR_NO_DEVICE */
	{ "illegal_address", 700 }, /* cudaErrorIllegalAddress, CUDA_ERROR_ILLEGAL_ADDRESS */
	{ "launch_failure", 719 },  /* cudaErrorLaunchFailure, CUDA_ERROR_LAUNCH_FAILED */
	{ "unknown", 999 },         /* cudaErrorUnknown, CUDA_ERROR_UNKNOWN */
};

#define N_CUDA_ERRORS (sizeof(cuda_errors) / sizeof(cuda_errors[0]))

int mc_cfg_cuda_error_value(const char *text)
{
	for (size_t i = 0; i < N_CUDA_ERRORS; i++)
		if (strcmp(cuda_errors[i].name, text) == 0)
			return cuda_errors[i].code;
	/* a number: decimal digits only, 1 to MC_CUDA_ERROR_MAX (0 is success) */
	int code = 0;
	size_t n = strlen(text);
	if (n == 0 || n > 4)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return 0;
		code = code * 10 + (text[i] - '0');
	}
	return code;
}

const char *mc_cuda_error_name(int code)
{
	for (size_t i = 0; i < N_CUDA_ERRORS; i++)
		if (cuda_errors[i].code == code)
			return cuda_errors[i].name;
	return NULL;
}

void mc_cfg_cuda_error_names(char *buf, size_t size)
{
	size_t len = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < N_CUDA_ERRORS && len < size; i++) {
		int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", cuda_errors[i].name);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}
