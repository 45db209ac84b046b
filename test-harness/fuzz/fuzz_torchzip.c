/* fuzz_torchzip.c: libFuzzer harness for the PyTorch zip recogniser (the zip records and the
 * data.pkl pickle walker): the input follows a local header's "PK\x03\x04"; its last byte
 * may fail one allocation. Checks in fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "PK\x03\x04", 4, MC_TF_TORCH_ZIP);
	return 0;
}
