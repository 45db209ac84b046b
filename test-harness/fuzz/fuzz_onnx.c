/* fuzz_onnx.c: libFuzzer harness for the ONNX recogniser: the input follows a ModelProto's
 * first field, ir_version 7 (ONNX has no magic; the probe wants this start); its last byte
 * may fail one allocation. Checks in fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "\x08\x07", 2, MC_TF_ONNX);
	return 0;
}
