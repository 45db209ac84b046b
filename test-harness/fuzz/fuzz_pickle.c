/* fuzz_pickle.c: libFuzzer harness for the plain-pickle and joblib recogniser (the pickle
 * walker reading the file through its window, numpy's arrays, joblib's inline array bytes):
 * the input follows PROTO 3 ("\x80\x03"); its last byte may fail one allocation. The seeds
 * are pickle.dump and joblib.dump files less their first two bytes. Checks in fuzz_tensors.c. */
#include "fuzz.h"
#include "fuzz_tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tensor_file(data, size, "\x80\x03", 2, MC_TF_PICKLE);
	return 0;
}
