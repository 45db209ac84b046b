#!/usr/bin/env bash
# check.sh: the CUDA families on a real GPU, through a CUDA build of PyTorch: what the gpu
# suite shows on the stand-in driver, checked once on NVIDIA's. One short run (a minute or
# two), by hand, on a machine with a GPU; CI has none.
#
#   oom              cuda_alloc fail: a CUDA tensor raises torch.cuda.OutOfMemoryError, with
#                    the default allocator and with expandable_segments:True (cuMemCreate +
#                    cuMemMap through the driver's entry points, never cudaMalloc); without the
#                    rule the same tensor is allocated
#   budget           budget = 1GiB: a small model loads and runs a small batch; a batch that
#                    needs more than 1 GiB raises torch.cuda.OutOfMemoryError, and the model
#                    still runs a small batch after it
#   missing          cuda_init fail: torch.cuda.is_available() is False, device_count() 0
#   xid              cuda_launch fail, sticky: a matmul raises (the illegal-address error, or
#                    cuBLAS's execution failure for its own kernel), and every CUDA call after
#                    it raises the illegal-address error (an elementwise kernel, a copy back, a
#                    synchronize)
#   overhead         a loop of small kernel launches, bare and with the library preloaded
#                    and no rule: the ratio of their best times (idle cost), printed
#
# usage: test-harness/gpu/check.sh [MLCHAOS]     (default build/shim/mlchaos)
# Environment: PYTHON (default python3), the interpreter with the CUDA PyTorch.
# Exit: 0 every check held, 1 one did not, 77 skipped (the reason is printed: no PyTorch, or
# a PyTorch without CUDA, or no GPU), 2 usage.
set -u

MLCHAOS=${1:-build/shim/mlchaos}
PY=${PYTHON:-python3}
if [[ ! -x $MLCHAOS || ! -f $(dirname "$MLCHAOS")/libmlchaos.so ]]; then
	echo "check.sh: $MLCHAOS: not the mlchaos command with libmlchaos.so beside it" >&2
	exit 2
fi
LIB=$(cd "$(dirname "$MLCHAOS")" && pwd)/libmlchaos.so

why=$("$PY" - 2>&1 <<'EOF'
try:
    import torch
except Exception as e:
    print("no PyTorch (%s)" % e)
else:
    if torch.version.cuda is None:
        print("PyTorch %s is built without CUDA" % torch.__version__)
    elif not torch.cuda.is_available():
        print("PyTorch %s (CUDA %s) sees no GPU" % (torch.__version__, torch.version.cuda))
EOF
)
if [[ -n $why ]]; then
	echo "check.sh: skip: $why"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

"$PY" - <<'EOF'
import torch
print("check.sh: PyTorch %s, CUDA %s, %s" % (torch.__version__, torch.version.cuda,
                                             torch.cuda.get_device_name(0)))
EOF

# verdict NAME WANT OUTPUT: PASS when the output has the line "RESULT WANT" (WANT an
# extended regular expression).
verdict() {
	if grep -qxE "RESULT $2" <<<"$3"; then
		echo "check.sh: PASS $1: $2"
		passed=$((passed + 1))
	else
		echo "check.sh: FAIL $1: expected RESULT $2, got:"
		tail -15 <<<"$3" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

# under RULES SCRIPT [ENV...]: the script's output (stdout and stderr) under `mlchaos run`
# with the rules (INI text after [mlchaos]), or bare when RULES is "-".
under() {
	local rules=$1 script=$2
	shift 2
	printf '%s\n' "$script" >"$tmp/script.py"
	if [[ $rules == - ]]; then
		env "$@" timeout 300 "$PY" "$tmp/script.py" 2>&1
	else
		printf '[mlchaos]\nseed = 1\n%s\n' "$rules" >"$tmp/chaos.ini"
		env "$@" timeout 300 "$MLCHAOS" run -c "$tmp/chaos.ini" -- "$PY" "$tmp/script.py" 2>&1
	fi
}

ALLOC_FAIL='[fault.oom]
hook = cuda_alloc
action = fail
select = call'

OOM='import torch
try:
    x = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    print("RESULT allocated")
except torch.cuda.OutOfMemoryError as e:
    print("RESULT OutOfMemoryError")
    print(str(e).splitlines()[0])'

verdict "oom, no rule" allocated "$(under - "$OOM")"
verdict "oom, default allocator" OutOfMemoryError "$(under "$ALLOC_FAIL" "$OOM")"
verdict "oom, no rule, expandable segments" allocated \
	"$(under - "$OOM" PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True)"
verdict "oom, expandable segments" OutOfMemoryError \
	"$(under "$ALLOC_FAIL" "$OOM" PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True)"

BUDGET='[fault.budget]
hook = cuda_alloc
action = fail
select = call
budget = 1GiB'

MODEL='import torch
model = torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                            torch.nn.Linear(1024, 16)).cuda()
with torch.no_grad():
    model(torch.randn(64, 1024, device="cuda"))
    torch.cuda.synchronize()
    print("RESULT model loaded and ran a batch of 64")
    try:
        model(torch.randn(400000, 1024, device="cuda"))
        torch.cuda.synchronize()
        print("RESULT large batch ran")
    except torch.cuda.OutOfMemoryError:
        print("RESULT large batch OutOfMemoryError")
    model(torch.randn(64, 1024, device="cuda"))
    torch.cuda.synchronize()
    print("RESULT a batch of 64 after the OOM")'

out=$(under "$BUDGET" "$MODEL")
verdict "budget, model" "model loaded and ran a batch of 64" "$out"
verdict "budget, large batch" "large batch OutOfMemoryError" "$out"
verdict "budget, after" "a batch of 64 after the OOM" "$out"
out=$(under "$BUDGET" "$MODEL" PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True)
verdict "budget, large batch, expandable segments" "large batch OutOfMemoryError" "$out"

MISSING='import torch
print("RESULT available=%s count=%d" % (torch.cuda.is_available(), torch.cuda.device_count()))'

verdict "missing, no rule" "available=True count=[1-9][0-9]*" "$(under - "$MISSING")"
verdict "missing" "available=False count=0" "$(under '[fault.no-gpu]
hook = cuda_init
action = fail' "$MISSING")"

XID='import torch
a = torch.ones(512, 512).cuda()  # a copy: no kernel yet
torch.cuda.synchronize()
def attempt(what, fn):
    try:
        fn()
        torch.cuda.synchronize()
        print("RESULT %s passed" % what)
    except RuntimeError as e:
        text = str(e)
        kind = ("illegal address" if "illegal memory access" in text else
                "cublas execution failed" if "CUBLAS_STATUS_EXECUTION_FAILED" in text else
                "other error")
        print("RESULT %s %s" % (what, kind))
        print(text.splitlines()[0])
attempt("matmul", lambda: a @ a)
attempt("elementwise", lambda: a + 1)
attempt("copy back", lambda: a.cpu())
attempt("synchronize", torch.cuda.synchronize)'

XID_RULE='[fault.xid]
hook = cuda_launch
action = fail
select = call
sticky = true'

verdict "xid, no rule" "matmul passed" "$(under - "$XID")"
out=$(under "$XID_RULE" "$XID")
# cuBLAS reports a kernel of its own that failed as an execution failure; every call after it
# meets the poisoned context
verdict "xid, matmul" "matmul (illegal address|cublas execution failed)" "$out"
for what in elementwise "copy back" synchronize; do
	verdict "xid, $what" "$what illegal address" "$out"
done

# Idle cost: a loop of small kernel launches, best of 5 runs each way, interleaved.
LOOP='import time, torch
x = torch.zeros(16, device="cuda")
for _ in range(1000):
    x.add_(1)
torch.cuda.synchronize()
n = 20000
t0 = time.perf_counter()
for _ in range(n):
    x.add_(1)
torch.cuda.synchronize()
print("NS %.1f" % ((time.perf_counter() - t0) / n * 1e9))'
printf '%s\n' "$LOOP" >"$tmp/loop.py"
bare=()
lib=()
for _ in 1 2 3 4 5; do
	bare+=("$("$PY" "$tmp/loop.py" | sed -n 's/^NS //p')")
	lib+=("$(env LD_PRELOAD="$LIB" "$PY" "$tmp/loop.py" | sed -n 's/^NS //p')")
done
ratio=$("$PY" -c '
import sys
b = min(float(v) for v in sys.argv[1].split())
l = min(float(v) for v in sys.argv[2].split())
print("bare %.0f ns a launch, preloaded (no rule) %.0f ns: ratio %.3f" % (b, l, l / b))
' "${bare[*]}" "${lib[*]}" 2>&1)
echo "check.sh: overhead: $ratio"
if [[ $ratio == *"ratio "* ]]; then
	passed=$((passed + 1))
else
	echo "check.sh: FAIL overhead: the loop did not run"
	failed=$((failed + 1))
fi

echo "check.sh: $passed passed, $failed failed"
((failed == 0))
