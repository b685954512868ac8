// Hand-written by people as the bar for the models. Same series, same double arithmetic per term, but four
// partial sums kept in one AVX register (GCC/Clang vector extensions), so four divisions run at once. Changing the
// order of the additions changes the last printed digits, so this program is checked to a relative 1e-9.
#include <chrono>
#include <cstdio>

typedef double v4d __attribute__((vector_size(32)));

static double calculate(long long iterations, long long param1, long long param2) {
    const double p1 = static_cast<double>(param1), p2 = static_cast<double>(param2);
    v4d acc = {0.0, 0.0, 0.0, 0.0}, i = {1.0, 2.0, 3.0, 4.0};
    const v4d step = {4.0, 4.0, 4.0, 4.0};
    long long k = 1;
    for (; k + 3 <= iterations; k += 4, i += step) acc += 1.0 / (i * p1 + p2) - 1.0 / (i * p1 - p2);
    double result = 1.0 + ((acc[0] + acc[1]) + (acc[2] + acc[3]));
    for (; k <= iterations; ++k) result += 1.0 / static_cast<double>(k * param1 + param2)
                                         - 1.0 / static_cast<double>(k * param1 - param2);
    return result;
}

int main() {
    auto start = std::chrono::steady_clock::now();
    double result = calculate(__N__LL, 4, 1) * 4;
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("Result: %.12f\n", result);
    std::printf("Execution Time: %.6f seconds\n", elapsed.count());
    return 0;
}
