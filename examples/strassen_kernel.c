/*
 * strassen_kernel.c - Strassen's matrix multiplication: the recursion, its operands and its
 * combination step, compiled once and linked into both strassen (Mome) and strassen_serial, so
 * that the two programs execute the very same machine code for every floating-point operation.
 */
#include <stdlib.h>

#include "apps_util.h"
#include "strassen_kernel.h"

/* Block b (0: X11, 1: X12, 2: X21, 3: X22) of a 2h x 2h matrix with leading dimension ld. */
static const double *block(const double *X, int ld, int h, int b)
{
    return X + (size_t)(b >> 1) * (size_t)h * (size_t)ld + (size_t)(b & 1) * (size_t)h;
}

/* Each operand is X[b0] + sign * X[b1], or X[b0] alone when b1 < 0; [0] for A, [1] for B. */
static const struct {
    signed char b0, b1, sign;
} operand[STRASSEN_PRODUCTS][2] = {
    {{0, 3, 1}, {0, 3, 1}},   /* M1 = (A11 + A22)(B11 + B22) */
    {{2, 3, 1}, {0, -1, 0}},  /* M2 = (A21 + A22) B11 */
    {{0, -1, 0}, {1, 3, -1}}, /* M3 = A11 (B12 - B22) */
    {{3, -1, 0}, {2, 0, -1}}, /* M4 = A22 (B21 - B11) */
    {{0, 1, 1}, {3, -1, 0}},  /* M5 = (A11 + A12) B22 */
    {{2, 0, -1}, {0, 1, 1}},  /* M6 = (A21 - A11)(B11 + B12) */
    {{1, 3, -1}, {2, 3, 1}},  /* M7 = (A12 - A22)(B21 + B22) */
};

unsigned strassen_blocks(int k, int which)
{
    unsigned m = 1u << operand[k][which].b0;

    if (operand[k][which].b1 >= 0)
        m |= 1u << operand[k][which].b1;
    return m;
}

void strassen_operand_part(int k, int which, int h, const double *const X[4], int ldx, double *Z,
                           int ldz)
{
    const double *x = X[operand[k][which].b0];
    const double *y = operand[k][which].b1 >= 0 ? X[operand[k][which].b1] : NULL;
    const int sign = operand[k][which].sign;

    for (int i = 0; i < h; i++) {
        const double *xr = x + (size_t)i * (size_t)ldx;
        double *zr = Z + (size_t)i * (size_t)ldz;

        if (!y) {
            for (int j = 0; j < h; j++)
                zr[j] = xr[j];
        } else {
            const double *yr = y + (size_t)i * (size_t)ldx;

            if (sign > 0)
                for (int j = 0; j < h; j++)
                    zr[j] = xr[j] + yr[j];
            else
                for (int j = 0; j < h; j++)
                    zr[j] = xr[j] - yr[j];
        }
    }
}

void strassen_naive(int n, const double *A, int lda, const double *B, int ldb, double *C, int ldc)
{
    for (int i = 0; i < n; i++) {
        double *c = C + (size_t)i * (size_t)ldc;

        for (int j = 0; j < n; j++)
            c[j] = 0.0;
        for (int k = 0; k < n; k++) {
            const double a = A[(size_t)i * (size_t)lda + (size_t)k];
            const double *b = B + (size_t)k * (size_t)ldb;

            for (int j = 0; j < n; j++)
                c[j] += a * b[j];
        }
    }
}

void strassen_operands(int k, int h, const double *A, int lda, const double *B, int ldb, double *S,
                       double *T)
{
    const double *Ab[4], *Bb[4];

    for (int b = 0; b < 4; b++) {
        Ab[b] = block(A, lda, h, b);
        Bb[b] = block(B, ldb, h, b);
    }
    strassen_operand_part(k, 0, h, Ab, lda, S, h);
    strassen_operand_part(k, 1, h, Bb, ldb, T, h);
}

void strassen_combine(int rows, int h, const double *const M[STRASSEN_PRODUCTS], int ldm, double *C,
                      int ldc)
{
    for (int r = 0; r < rows; r++) {
        const size_t o = (size_t)r * (size_t)ldm;
        const double *m1 = M[0] + o, *m2 = M[1] + o, *m3 = M[2] + o, *m4 = M[3] + o;
        const double *m5 = M[4] + o, *m6 = M[5] + o, *m7 = M[6] + o;
        double *c11 = C + (size_t)r * (size_t)ldc, *c12 = c11 + h;
        double *c21 = c11 + (size_t)h * (size_t)ldc, *c22 = c21 + h;

        for (int j = 0; j < h; j++) {
            c11[j] = m1[j] + m4[j] - m5[j] + m7[j];
            c12[j] = m3[j] + m5[j];
            c21[j] = m2[j] + m4[j];
            c22[j] = m1[j] - m2[j] + m3[j] + m6[j];
        }
    }
}

int strassen_rec(int n, const double *A, int lda, const double *B, int ldb, double *C, int ldc,
                 int cutoff)
{
    if (n <= cutoff || (n & 1)) {
        strassen_naive(n, A, lda, B, ldb, C, ldc);
        return 0;
    }

    const int h = n / 2;
    const size_t hh = (size_t)h * (size_t)h;
    double *w = malloc((2 + STRASSEN_PRODUCTS) * hh * sizeof(double));
    const double *M[STRASSEN_PRODUCTS];
    int rc = 0;

    if (!w)
        return -1;
    for (int k = 0; k < STRASSEN_PRODUCTS && rc == 0; k++) {
        double *S = w, *T = w + hh, *Mk = w + (2 + (size_t)k) * hh;

        strassen_operands(k, h, A, lda, B, ldb, S, T);
        rc = strassen_rec(h, S, h, T, h, Mk, h, cutoff);
        M[k] = Mk;
    }
    if (rc == 0)
        strassen_combine(h, h, M, h, C, ldc);
    free(w);
    return rc;
}

double strassen_input(int which, int n, int i, int j)
{
    return apps_value(0x5712a55e + (uint64_t)which, (uint64_t)i * (uint64_t)n + (uint64_t)j);
}
