/*
 * sor_kernel.h - red-black successive over-relaxation on an (n+2) x (n+2) grid whose border is
 * fixed, shared by sor.c (on Mome) and sor_serial.c (the reference).
 *
 * Point (i, j) is red when i + j is even, black when it is odd. A half-sweep updates the points of
 * one colour from their four neighbours, which all have the other colour, so the result does not
 * depend on the order or the split of the rows: any split gives the serial result bit for bit.
 * As in the TreadMarks version, the two colours are stored apart: row i of colour c holds the
 * n/2 interior points of that colour, (i, j0 + 2k) for k = 0 .. n/2-1 with j0 = 1 if i + 1 + c is
 * even, else 2; the two border columns, which never change, are kept in `west` and `east`. A
 * half-sweep of one colour thus reads only the other colour: the rows a node's neighbours read
 * while it computes are rows it does not write.
 */
#ifndef SOR_KERNEL_H
#define SOR_KERNEL_H

#define SOR_RED 0
#define SOR_BLACK 1

typedef struct sor_grid {
    int n;           /* interior size, even */
    double **row[2]; /* row[c][i], i = 0 .. n+1: the n/2 interior points of colour c in row i */
    double *west;    /* west[i]: point (i, 0) */
    double *east;    /* east[i]: point (i, n+1) */
} sor_grid_t;

/* The initial value of point (i, j), 0 <= i, j <= n+1. */
double sor_init_point(int n, int i, int j);

/* Fill row i of colour c (n/2 doubles) with its initial values. */
void sor_init_row(double *row, int n, int i, int c);

/*
 * Update the points of `color` in rows r0 .. r1-1 (1 <= r0, r1 <= n+1):
 * x = (1 - omega) x + omega/4 (north + south + west + east).
 */
void sor_halfsweep(const sor_grid_t *g, int r0, int r1, int color, double omega);

/* The sum of the whole grid, border included, row by row, left to right. */
double sor_checksum(const sor_grid_t *g);

#endif
