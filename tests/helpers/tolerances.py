"""Float tolerances for results that two code paths compute in float32, and where they come from.

float32 rounding depends on the summation order the CPU's kernels choose (BLAS build, SIMD width,
thread split), so a tolerance must cover any order, not this machine's. Each figure below is a
safe multiple of the largest error measured against a float64 reference over OpenBLAS kernels
SkylakeX / Haswell / Sandybridge / Katmai (OPENBLAS_CORETYPE), 1-2 threads, MKL / oneDNN / ATen at
AVX-512, AVX2 and baseline ISA, and CPU load, and still below what a defect moves (one bias
entry of MiniLM's layer 3 scaled by 1.001, or its embedding LayerNorm eps 1e-6 instead of 1e-12,
exceeds them; tanh-GELU for exact GELU by 150-400x).
"""

# all-MiniLM-L6-v2 hidden states at attended positions (|h| <= 6.3 after 6 layers): a float32
# forward (numpy or torch) is off by <= 3.3e-6 from the torch forward in float64.
HIDDEN_ATOL = 2e-5
# Unit sentence vectors (mean or CLS pooled) and pooler outputs (tanh, |y| <= 1): <= 2.6e-7.
VECTOR_ATOL = 2e-6
# Inner products of unit 384-d float32 vectors, FAISS against numpy/OpenBLAS sgemm: <= 1.0e-6
# apart on the embedded corpus (each <= 1.0e-6 from float64; the search's gathered-row sgemv
# <= 2.4e-7). The worst-case bound n * 2^-24 = 2.3e-5 is never approached by real rounding.
SCORE_ATOL = 1e-5
