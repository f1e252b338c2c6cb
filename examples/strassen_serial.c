/*
 * strassen_serial.c - the serial reference of strassen.c: C = A B by Strassen's recursion on one
 * process, without Mome, with the same inputs and the same kernel (strassen_kernel.c), so its
 * checksum must equal strassen's bit for bit. Only the multiplication is timed. With "verify" it
 * also compares the result with the plain O(n^3) product (a check of the recursion itself, which
 * legitimately differs in rounding: it prints the largest relative difference).
 *
 *   strassen_serial [n [cutoff [verify]]]      (n a power of two, default 512; cutoff 64)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps_util.h"
#include "strassen_kernel.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 512;
    int cutoff = argc > 2 ? atoi(argv[2]) : STRASSEN_CUTOFF;
    int verify = argc > 3 && !strcmp(argv[3], "verify");

    if (n < 4 || (n & (n - 1)) || cutoff < 1 || n / 2 <= cutoff) {
        fprintf(stderr,
                "strassen_serial: n must be a power of two and n/2 > cutoff (n=%d, "
                "cutoff=%d)\n",
                n, cutoff);
        return 2;
    }
    size_t nn = (size_t)n * (size_t)n;
    double *A = malloc(nn * sizeof(double)), *B = malloc(nn * sizeof(double));
    double *C = malloc(nn * sizeof(double));
    if (!A || !B || !C) {
        fprintf(stderr, "strassen_serial: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            A[(size_t)i * (size_t)n + (size_t)j] = strassen_input(0, n, i, j);
            B[(size_t)i * (size_t)n + (size_t)j] = strassen_input(1, n, i, j);
        }

    double t0 = apps_now();
    if (strassen_rec(n, A, n, B, n, C, n, cutoff) < 0) {
        fprintf(stderr, "strassen_serial: out of memory\n");
        return 1;
    }
    double t1 = apps_now();

    if (verify) {
        double *D = malloc(nn * sizeof(double)), maxrel = 0.0, maxabs = 0.0;
        if (!D) {
            fprintf(stderr, "strassen_serial: out of memory\n");
            return 1;
        }
        strassen_naive(n, A, n, B, n, D, n);
        for (size_t e = 0; e < nn; e++)
            if (fabs(D[e]) > maxabs)
                maxabs = fabs(D[e]);
        for (size_t e = 0; e < nn; e++)
            if (fabs(C[e] - D[e]) / maxabs > maxrel)
                maxrel = fabs(C[e] - D[e]) / maxabs;
        printf("strassen_serial: largest difference from the plain product: %.3g of the largest "
               "element\n",
               maxrel);
        free(D);
        if (maxrel > 1e-12)
            return 1;
    }

    printf("strassen n=%d cutoff=%d nodes=serial ", n, cutoff);
    apps_print_checksum(apps_sum_matrix(C, n, n, n));
    printf(" time=%.6fs\n", t1 - t0);
    free(A);
    free(B);
    free(C);
    return 0;
}
