// Hand-written by people as the bar for the models: the same LCG, and Kadane's O(n) algorithm
// instead of the O(n^2) double loop (it finds the same maximum, so the output is identical).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>

static uint64_t lcg_next(uint64_t &value) {
    value = (1664525ULL * value + 1013904223ULL) % 4294967296ULL;
    return value;
}

static int64_t max_subarray_sum(long n, uint64_t seed, int64_t min_val, int64_t max_val) {
    uint64_t state = seed;
    const uint64_t range = static_cast<uint64_t>(max_val - min_val + 1);
    int64_t best = std::numeric_limits<int64_t>::min(), current = 0;
    for (long i = 0; i < n; ++i) {
        int64_t x = static_cast<int64_t>(lcg_next(state) % range) + min_val;
        current = std::max(x, current + x);
        best = std::max(best, current);
    }
    return best;
}

int main() {
    const long n = __N__;
    auto start = std::chrono::steady_clock::now();
    uint64_t state = 42;
    int64_t total = 0;
    for (int k = 0; k < 20; ++k) total += max_subarray_sum(n, lcg_next(state), -10, 10);
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("Total Maximum Subarray Sum (20 runs): %lld\n", static_cast<long long>(total));
    std::printf("Execution Time: %.6f seconds\n", elapsed.count());
    return 0;
}
