// Native FNV-1a 64 reference for bench/kernels.bench.ts: the speed bound of the
// multiply chain on this CPU. Usage: fnv1a64 BYTES REPEATS RUNS -> best GB/s.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  size_t n = strtoull(argv[1], 0, 10);
  int reps = atoi(argv[2]), runs = atoi(argv[3]);
  uint8_t *b = malloc(n);
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 2654435761u >> 13);
  double times[64];
  uint64_t sink = 0;
  for (int r = 0; r < runs && r < 64; r++) {
    double s = now();
    for (int k = 0; k < reps; k++) {
      uint64_t h = 0xcbf29ce484222325ull ^ sink;
      for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
      sink += h;
    }
    times[r] = now() - s;
  }
  // median, like the JS side
  for (int i = 0; i < runs; i++)
    for (int j = i + 1; j < runs; j++)
      if (times[j] < times[i]) { double t = times[i]; times[i] = times[j]; times[j] = t; }
  printf("%f %llu\n", (double)n * reps / times[runs / 2] / 1e9, (unsigned long long)(sink & 1));
  return 0;
}
