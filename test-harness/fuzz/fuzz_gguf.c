/* fuzz_gguf.c: libFuzzer harness for the GGUF recogniser: the input follows the magic
 * "GGUF"; its last byte may fail one allocation. Checks in fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "GGUF", 4, MC_TF_GGUF);
	return 0;
}
