/* fuzz_tensors.h: the one harness body shared by the recogniser fuzzers (fuzz_safetensors.c,
 * fuzz_gguf.c, fuzz_npy.c, fuzz_torchzip.c, fuzz_onnx.c). */
#ifndef MC_FUZZ_TENSORS_H
#define MC_FUZZ_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tensors.h"

/* Feeds magic + data[0, size - 1) as a file to mc_tensor_recognize through its read_at
 * callback; the last input byte, when below 32, makes that allocation (1-based) fail. Checks
 * the contract of tensors.h on every answer: no read outside the file, a map only on 1 (of
 * format want when there is a magic), sorted, disjoint and inside the file; a one-line why only on
 * -1; every allocation freed; no allocation out of proportion to the input; the same answer twice.
 */
void fuzz_tensor_file(const uint8_t *data, size_t size, const char *magic, size_t magic_len,
                      enum mc_tensor_format want);

#endif
