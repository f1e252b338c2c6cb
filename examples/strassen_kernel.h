/*
 * strassen_kernel.h - the arithmetic of Strassen's matrix multiplication, shared by strassen.c
 * (on Mome) and strassen_serial.c (the reference), so that both perform exactly the same
 * floating-point operations on every element and their results agree bit for bit.
 *
 * Matrices are row-major doubles; a matrix argument is a pointer to its first element and a
 * leading dimension (the distance between rows, in elements). A 2h x 2h matrix X is seen as four
 * h x h blocks X11 X12 / X21 X22. With
 *
 *   M1 = (A11 + A22)(B11 + B22)    M5 = (A11 + A12) B22
 *   M2 = (A21 + A22) B11           M6 = (A21 - A11)(B11 + B12)
 *   M3 = A11 (B12 - B22)           M7 = (A12 - A22)(B21 + B22)
 *   M4 = A22 (B21 - B11)
 *
 * C = AB is  C11 = M1 + M4 - M5 + M7   C12 = M3 + M5
 *            C21 = M2 + M4             C22 = M1 - M2 + M3 + M6.
 */
#ifndef STRASSEN_KERNEL_H
#define STRASSEN_KERNEL_H

/* Number of products of one level of the recursion. */
#define STRASSEN_PRODUCTS 7

/* Below or at this size (and for odd sizes) the recursion multiplies the plain way. */
#define STRASSEN_CUTOFF 64

/* C = A B, the plain O(n^3) way (C is overwritten). */
void strassen_naive(int n, const double *A, int lda, const double *B, int ldb, double *C, int ldc);

/*
 * The operands of product k (0..6, for M1..M7) of the 2h x 2h matrices A and B: S and T, h x h,
 * contiguous (leading dimension h).
 */
void strassen_operands(int k, int h, const double *A, int lda, const double *B, int ldb, double *S,
                       double *T);

/* Which blocks of A (which = 0) or B (which = 1) product k reads: bit b for block b, with
 * b = 0: X11, 1: X12, 2: X21, 3: X22. */
unsigned strassen_blocks(int k, int which);

/*
 * The same h x h part of every block, given by X[b] (leading dimension ldx; only the blocks of
 * strassen_blocks(k, which) are read), gives the same part of operand k of A (which = 0) or of B
 * (which = 1), written to Z (leading dimension ldz). strassen_operands is this on whole blocks.
 */
void strassen_operand_part(int k, int which, int h, const double *const X[4], int ldx, double *Z,
                           int ldz);

/*
 * Combine products into C, on `rows` rows of each block: M[k] points at row r0 of product k
 * (h columns, leading dimension ldm) and C at row r0 of C11 (C12 is h columns to the right, C21
 * h rows below). Rows r0 .. r0+rows-1 and h+r0 .. h+r0+rows-1 of C are written; each element is
 * computed from the same elements of M1..M7 only, so any split of the rows gives the same bits.
 */
void strassen_combine(int rows, int h, const double *const M[STRASSEN_PRODUCTS], int ldm, double *C,
                      int ldc);

/*
 * C = A B by Strassen's recursion down to `cutoff` (n a power of two). Returns 0, or -1 if
 * temporary memory could not be allocated.
 */
int strassen_rec(int n, const double *A, int lda, const double *B, int ldb, double *C, int ldc,
                 int cutoff);

/* The deterministic inputs of the benchmark: element (i, j) of A (which = 0) or B (which = 1). */
double strassen_input(int which, int n, int i, int j);

#endif
