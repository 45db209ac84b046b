/* fuzz_safetensors.c: libFuzzer harness for the safetensors recogniser: the input is the
 * whole file (safetensors has no magic); its last byte may fail one allocation. Checks in
 * fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "", 0, MC_TF_SAFETENSORS);
	return 0;
}
