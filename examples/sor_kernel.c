/*
 * sor_kernel.c - the arithmetic of red-black SOR, compiled once and linked into both sor (Mome)
 * and sor_serial, so that both execute the very same floating-point code.
 */
#include "apps_util.h"
#include "sor_kernel.h"

/* The first interior column of colour c in row i. */
static int first_col(int i, int c)
{
    return ((i + 1 + c) & 1) == 0 ? 1 : 2;
}

double sor_init_point(int n, int i, int j)
{
    uint64_t e = (uint64_t)i * (uint64_t)(n + 2) + (uint64_t)j;

    /* Border in [1, 2), interior in [-1, 1): a field that relaxes visibly in 50 sweeps. */
    if (i == 0 || i == n + 1 || j == 0 || j == n + 1)
        return 1.5 + 0.5 * apps_value(0x50e, e);
    return apps_value(0x50f, e);
}

void sor_init_row(double *row, int n, int i, int c)
{
    for (int k = 0, j = first_col(i, c); k < n / 2; k++, j += 2)
        row[k] = sor_init_point(n, i, j);
}

void sor_halfsweep(const sor_grid_t *g, int r0, int r1, int color, double omega)
{
    const double keep = 1.0 - omega, w4 = 0.25 * omega;
    const int m = g->n / 2;

    for (int i = r0; i < r1; i++) {
        double *x = g->row[color][i];
        const double *up = g->row[1 - color][i - 1], *down = g->row[1 - color][i + 1];
        const double *o = g->row[1 - color][i]; /* the other colour, same row */

        if (first_col(i, color) == 1) {
            /* Point k is column 1 + 2k: its west is o[k-1] (the border for k = 0), east o[k]. */
            x[0] = keep * x[0] + w4 * (up[0] + down[0] + g->west[i] + o[0]);
            for (int k = 1; k < m; k++)
                x[k] = keep * x[k] + w4 * (up[k] + down[k] + o[k - 1] + o[k]);
        } else {
            /* Point k is column 2 + 2k: its west is o[k], east o[k+1] (the border for the last). */
            for (int k = 0; k < m - 1; k++)
                x[k] = keep * x[k] + w4 * (up[k] + down[k] + o[k] + o[k + 1]);
            x[m - 1] = keep * x[m - 1] + w4 * (up[m - 1] + down[m - 1] + o[m - 1] + g->east[i]);
        }
    }
}

double sor_checksum(const sor_grid_t *g)
{
    const int n = g->n;
    double s = 0.0;

    for (int i = 0; i < n + 2; i++) {
        s += g->west[i];
        for (int j = 1; j <= n; j++) {
            const int c = (i + j) & 1;
            s += g->row[c][i][(j - first_col(i, c)) / 2];
        }
        s += g->east[i];
    }
    return s;
}
