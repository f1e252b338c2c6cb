/*
 * sor_serial.c - the serial reference of sor.c: red-black successive over-relaxation of an
 * (n+2) x (n+2) grid on one process, without Mome, with the same initial grid and the same kernel
 * (sor_kernel.c), so its checksum (the sum of the whole grid, row by row) must equal sor's bit for
 * bit. Only the iterations are timed.
 *
 *   sor_serial [n [iterations [omega]]]      (n even; defaults 1024, 50, 1.25)
 */
#include <stdio.h>
#include <stdlib.h>

#include "apps_util.h"
#include "sor_kernel.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1024;
    int iters = argc > 2 ? atoi(argv[2]) : 50;
    double omega = argc > 3 ? atof(argv[3]) : 1.25;

    if (n < 2 || n % 2 || iters < 0) {
        fprintf(stderr, "sor_serial: n must be even and >= 2, iterations >= 0\n");
        return 2;
    }
    const size_t w = (size_t)n + 2, m = (size_t)n / 2;
    double *data = malloc(2 * w * m * sizeof(double));
    sor_grid_t g = {.n = n,
                    .row = {malloc(w * sizeof(double *)), malloc(w * sizeof(double *))},
                    .west = malloc(w * sizeof(double)),
                    .east = malloc(w * sizeof(double))};
    if (!data || !g.row[0] || !g.row[1] || !g.west || !g.east) {
        fprintf(stderr, "sor_serial: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < w; i++) {
        for (int c = 0; c < 2; c++) {
            g.row[c][i] = data + ((size_t)c * w + i) * m;
            sor_init_row(g.row[c][i], n, (int)i, c);
        }
        g.west[i] = sor_init_point(n, (int)i, 0);
        g.east[i] = sor_init_point(n, (int)i, n + 1);
    }

    double t0 = apps_now();
    for (int it = 0; it < iters; it++) {
        sor_halfsweep(&g, 1, n + 1, SOR_RED, omega);
        sor_halfsweep(&g, 1, n + 1, SOR_BLACK, omega);
    }
    double t1 = apps_now();

    printf("sor n=%d iters=%d omega=%g nodes=serial ", n, iters, omega);
    apps_print_checksum(sor_checksum(&g));
    printf(" time=%.6fs\n", t1 - t0);
    free(g.row[0]);
    free(g.row[1]);
    free(g.west);
    free(g.east);
    free(data);
    return 0;
}
