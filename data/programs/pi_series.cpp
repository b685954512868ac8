// Hand-written by people as the bar for the models: same loop, same double arithmetic, same output.
#include <chrono>
#include <cstdio>

static double calculate(long long iterations, long long param1, long long param2) {
    double result = 1.0;
    for (long long i = 1; i <= iterations; ++i) {
        result -= 1.0 / static_cast<double>(i * param1 - param2);
        result += 1.0 / static_cast<double>(i * param1 + param2);
    }
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
