/* fuzz_npy.c: libFuzzer harness for the .npy recogniser: the input follows the magic
 * "\x93NUMPY"; its last byte may fail one allocation. Checks in fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "\x93NUMPY", 6, MC_TF_NPY);
	return 0;
}
