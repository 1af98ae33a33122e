/* tgnn: softmax attention rows of one block of queries against one key/value head, fused.
 *
 * For the rows t of the block (query vectors q_t, d floats) and the keys k_j / values v_j:
 *   s_tj = scale * <q_t, k_j>,  p_tj = exp(s_tj - max_j s_tj) / Z_t  (masked keys: p = 0),
 *   H_t = log Z_t - sum_j p_tj (s_tj - max s_t),  o_t = sum_j p_tj v_j.
 * Per tile of TILE rows the scores are written once into w, turned into the weights in place
 * while they are in cache, and mixed with the values: the passes that separate library calls
 * make over memory (scale, mask, max, exp, sum, normalise, entropy, product) become one.
 * Weights agree with eager attention to a few units in the last place (another summation order
 * and exp polynomial), not bitwise. Portable C with GCC/Clang vector extensions, lowered to the
 * SIMD of the machine that compiles it (tgnn/convert/fused_kernel.py builds it on first use).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t i16v __attribute__((vector_size(64)));
#define TILE 8 /* rows per tile: 8 rows x 32 keys of accumulators fill the vector registers */
#define W 16

static inline v16 load16(const float *p) { v16 v; memcpy(&v, p, sizeof v); return v; }
static inline void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }
static inline v16 splat(float x) { return x - (v16){0}; }
static inline v16 select16(i16v mask, v16 yes, v16 no) {
    return (v16)(((i16v)yes & mask) | ((i16v)no & ~mask));
}

/* e^x for x <= 0 (shifted scores): Cephes expf (Cody-Waite reduction, degree-6 polynomial,
   about 1 ulp); 0 below -87.3365 (where e^x would be subnormal). */
static inline v16 exp16(v16 x) {
    const v16 lo = splat(-87.33654f);
    i16v under = x < lo;
    x = select16(under, lo, x);
    v16 n = (x * splat(1.44269504088896341f) + splat(12582912.0f)) - splat(12582912.0f);
    v16 r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    v16 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    i16v bits = (__builtin_convertvector(n, i16v) + 127) << 23;
    return select16(under, splat(0.0f), p * (v16)bits);
}

/* Scores of NT rows over the padded width mp (a multiple of 2W): w[t, j] = scale * <q[t], kt[:, j]>
   (kt is K transposed, [d, >= mp], rows ks floats apart; columns past the keys hold anything
   finite). The row count is a compile-time constant, so the accumulators stay in registers. */
#define SCORES(NT)                                                                             \
static void scores_##NT(const float *q, const float *kt, int64_t ks, float scale, int64_t mp, \
                        int64_t d, float *w, int64_t ws) {                                    \
    for (int64_t j = 0; j < mp; j += 2 * W) {                                                 \
        v16 a[NT][2];                                                                         \
        for (int t = 0; t < NT; t++) a[t][0] = a[t][1] = splat(0.0f);                         \
        for (int64_t c = 0; c < d; c++) {                                                     \
            v16 k0 = load16(kt + c * ks + j), k1 = load16(kt + c * ks + j + W);               \
            for (int t = 0; t < NT; t++) {                                                    \
                v16 qc = splat(q[t * d + c]);                                                 \
                a[t][0] += qc * k0;                                                           \
                a[t][1] += qc * k1;                                                           \
            }                                                                                 \
        }                                                                                     \
        for (int t = 0; t < NT; t++) {                                                        \
            store16(w + t * ws + j, a[t][0] * splat(scale));                                  \
            store16(w + t * ws + j + W, a[t][1] * splat(scale));                              \
        }                                                                                     \
    }                                                                                         \
}
SCORES(8)
SCORES(1)

/* One row of scores s into softmax weights in place; returns the entropy. The row has m keys
   in a padded width mp (a multiple of W); bias: the bw floats of columns blo .. blo + bw - 1,
   0 for a key the row may read and -inf for a masked one (keys outside are all readable), or
   NULL. A row that may read no key is uniform over its m keys (as
   eager attention's additive mask gives); the padding gets weight 0. */
static float softmax_row(float *s, const float *bias, int64_t blo, int64_t bw, int64_t m,
                         int64_t mp) {
    int64_t j;
    if (bias) {
        float *masked = s + blo;
        for (j = 0; j + W <= bw; j += W) store16(masked + j, load16(masked + j) + load16(bias + j));
        for (; j < bw; j++) masked[j] += bias[j];
    }
    for (j = m; j < mp; j++) s[j] = -INFINITY;
    v16 tops = splat(-INFINITY);
    for (j = 0; j < mp; j += W) {
        v16 x = load16(s + j);
        tops = select16(x > tops, x, tops);
    }
    float top = -INFINITY;
    for (int i = 0; i < W; i++) top = tops[i] > top ? tops[i] : top;
    if (top == -INFINITY) {
        for (j = 0; j < mp; j++) s[j] = j < m ? 1.0f / (float)m : 0.0f;
        return logf((float)m);
    }
    v16 total = splat(0.0f), spread = splat(0.0f);
    for (j = 0; j < mp; j += W) {
        v16 shifted = load16(s + j) - splat(top);
        v16 e = exp16(shifted);
        total += e;
        spread += select16(e > splat(0.0f), e * shifted, splat(0.0f));  /* 0 * -inf is NaN */
        store16(s + j, e);
    }
    float z = 0.0f, dot = 0.0f;
    for (int i = 0; i < W; i++) { z += total[i]; dot += spread[i]; }
    float inverse = 1.0f / z;
    for (j = 0; j < mp; j += W) store16(s + j, load16(s + j) * splat(inverse));
    return logf(z) - dot * inverse;
}

/* out[t, :] = sum_j p[t, j] v[j, :] for NT rows; d a multiple of 16. */
#define MIX(NT)                                                                                \
static void mix_##NT(const float *p, int64_t ws, const float *v, int64_t m, int64_t d,        \
                      float *out) {                                                           \
    for (int64_t c = 0; c < d; c += 2 * W) {                                                  \
        int two = c + 2 * W <= d;                                                             \
        v16 a[NT][2];                                                                         \
        for (int t = 0; t < NT; t++) a[t][0] = a[t][1] = splat(0.0f);                         \
        for (int64_t j = 0; j < m; j++) {                                                     \
            v16 v0 = load16(v + j * d + c);                                                   \
            v16 v1 = two ? load16(v + j * d + c + W) : splat(0.0f);                           \
            for (int t = 0; t < NT; t++) {                                                    \
                v16 pj = splat(p[t * ws + j]);                                                \
                a[t][0] += pj * v0;                                                           \
                a[t][1] += pj * v1;                                                           \
            }                                                                                 \
        }                                                                                     \
        for (int t = 0; t < NT; t++) {                                                        \
            store16(out + t * d + c, a[t][0]);                                                \
            if (two) store16(out + t * d + c + W, a[t][1]);                                   \
        }                                                                                     \
    }                                                                                         \
}
MIX(8)
MIX(1)

/* Rows first .. last - 1 of one key/value head's block: q [rows, d] query rows sharing the head;
   row t reads bias row t % r. kt: K transposed, [d, >= mp] with rows ks floats apart, where mp
   is m rounded up to a multiple of 2W (the columns past m are read but never used); v [m, d]
   contiguous; bias [r, bw] (0 or -inf per key) for the columns blo .. blo + bw - 1 (the others
   are readable), or NULL; outputs: w [rows, mp] with rows ws >= mp floats apart (the weights in
   columns < m, 0 after), out [rows, d], ent [rows] (nats). */
static void attention_rows(const float *q, const float *kt, int64_t ks, const float *v,
                           const float *bias, int64_t blo, int64_t bw, float scale,
                           int64_t first, int64_t last, int64_t r, int64_t m, int64_t d,
                           float *w, int64_t ws, float *out, float *ent) {
    int64_t mp = (m + 2 * W - 1) / (2 * W) * (2 * W);
    int64_t t0 = first;
    for (; t0 + TILE <= last; t0 += TILE) {
        scores_8(q + t0 * d, kt, ks, scale, mp, d, w + t0 * ws, ws);
        for (int64_t t = t0; t < t0 + TILE; t++)
            ent[t] = softmax_row(w + t * ws, bias ? bias + (t % r) * bw : NULL, blo, bw, m, mp);
        mix_8(w + t0 * ws, ws, v, m, d, out + t0 * d);
    }
    for (; t0 < last; t0++) {
        scores_1(q + t0 * d, kt, ks, scale, mp, d, w + t0 * ws, ws);
        ent[t0] = softmax_row(w + t0 * ws, bias ? bias + (t0 % r) * bw : NULL, blo, bw, m, mp);
        mix_1(w + t0 * ws, ws, v, m, d, out + t0 * d);
    }
}

#define CHUNK 32 /* rows per work item: a multiple of TILE */

/* attention_rows for every row of every one of the heads key/value heads of a block; each
   argument array of a head lies a head stride (qh, kh, vh, wh, oh, eh floats) after the
   previous one. The (head, chunk of rows) items are shared among the OpenMP threads (the
   runtime torch already runs, when this file is compiled with -fopenmp). */
void tgnn_attention_heads(const float *q, int64_t qh, const float *kt, int64_t kh, int64_t ks,
                          const float *v, int64_t vh, const float *bias, int64_t blo, int64_t bw,
                          float scale, int64_t heads, int64_t rows, int64_t r, int64_t m,
                          int64_t d, float *w, int64_t wh, int64_t ws, float *out, int64_t oh,
                          float *ent, int64_t eh) {
    int64_t chunks = (rows + CHUNK - 1) / CHUNK;
    #pragma omp parallel for schedule(dynamic) if (heads * chunks > 1)
    for (int64_t item = 0; item < heads * chunks; item++) {
        int64_t h = item / chunks, first = (item % chunks) * CHUNK;
        int64_t last = first + CHUNK < rows ? first + CHUNK : rows;
        attention_rows(q + h * qh, kt + h * kh, ks, v + h * vh, bias, blo, bw, scale, first,
                       last, r, m, d, w + h * wh, ws, out + h * oh, ent + h * eh);
    }
}

/* Selection of one row (see tgnn_select_rows); buf: m floats of scratch. */
static void select_row(const float *row, int64_t hs, int64_t heads, int64_t m, int reduction,
                       int64_t k, float *buf, int64_t *ci, float *vi, int64_t *count) {
    for (int64_t j = 0; j < m; j++) buf[j] = row[j];
    for (int64_t h = 1; h < heads; h++) {
        const float *other = row + h * hs;
        if (reduction == 2)
            for (int64_t j = 0; j < m; j++) buf[j] = other[j] > buf[j] ? other[j] : buf[j];
        else
            for (int64_t j = 0; j < m; j++) buf[j] += other[j];
    }
    if (reduction == 0)
        for (int64_t j = 0; j < m; j++) buf[j] /= (float)heads;
    int64_t n = 0, low = 0;  /* entries held, and the position of the smallest */
    for (int64_t j = 0; j < m; j++) {
        float a = buf[j];
        if (!(a > 0.0f) || (n == k && !(a > vi[low]))) continue;  /* ties: earlier wins */
        if (n < k) { ci[n] = j; vi[n] = a; n++; }
        else { ci[low] = j; vi[low] = a; }
        if (n == k) {
            low = 0;
            for (int64_t s = 1; s < k; s++)
                if (vi[s] < vi[low] || (vi[s] == vi[low] && ci[s] > ci[low])) low = s;
        }
    }
    for (int64_t s = 1; s < n; s++) {  /* by key */
        int64_t c = ci[s]; float v = vi[s]; int64_t t = s - 1;
        for (; t >= 0 && ci[t] > c; t--) { ci[t + 1] = ci[t]; vi[t + 1] = vi[t]; }
        ci[t + 1] = c; vi[t + 1] = v;
    }
    *count = n;
}

/* Rows first .. last - 1 of a block (head h of row i at w + h hs + i ws): their kept edges by
   select_row, and, when own is not NULL, their column sums added to own [H, m] (double),
   summed in float over the chunk's rows while they are in cache (relative error below one unit
   in the last place of float per row of the chunk), then in double. buf: m floats of scratch. */
static void select_chunk(const float *w, int64_t hs, int64_t ws, int64_t heads, int64_t first,
                         int64_t last, int64_t m, int reduction, int64_t k, float *buf,
                         int64_t *cols, float *vals, int64_t *count, double *own) {
    for (int64_t i = first; i < last; i++)
        select_row(w + i * ws, hs, heads, m, reduction, k, buf, cols + i * k, vals + i * k,
                   count + i);
    if (!own) return;
    for (int64_t h = 0; h < heads; h++) {  /* the chunk's rows of head h, in cache */
        for (int64_t j = 0; j < m; j++) buf[j] = 0.0f;
        for (int64_t i = first; i < last; i++) {
            const float *row = w + h * hs + i * ws;
            for (int64_t j = 0; j < m; j++) buf[j] += row[j];
        }
        for (int64_t j = 0; j < m; j++) own[h * m + j] += buf[j];
    }
}

/* At the end of a thread's share (inside a critical section): its column sums own [H, m] added
   to colsum (rows cs doubles apart), or *failed set when it could not allocate its scratch. */
static void merge_thread(int ok, const double *own, double *colsum, int64_t cs, int64_t heads,
                         int64_t m, int *failed) {
    if (!ok) *failed = 1;
    else if (colsum && !*failed)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t j = 0; j < m; j++) colsum[h * cs + j] += own[h * m + j];
}

/* The kept edges of a block under head reduction + top_k, without a reduced matrix in memory.
   For each row i: a_j = R_h w[h, i, j] over the H heads (reduction 0: mean, 1: sum, 2: max;
   head stride hs, row stride ws), then the k largest positive a_j, ties to the earliest key
   (as sparsify_mask), written sorted by key into cols[i, :k] / vals[i, :k], their number into
   count[i]. In the same pass, when colsum is not NULL, the column sums colsum[h, j] +=
   sum_i w[h, i, j] in double (rows cs doubles apart): summed in float over 8 rows while they
   are in cache (relative error below 8 units in the last place of float), then in double.
   Rows are shared among the OpenMP threads, each with its own scratch and column sums, added
   at the end. Returns 0, or -1 when a thread could not allocate its scratch (its rows and
   column sums are then missing). */
int tgnn_select_rows(const float *w, int64_t hs, int64_t ws, int64_t heads, int64_t rows,
                     int64_t m, int reduction, int64_t k, int64_t *cols, float *vals,
                     int64_t *count, double *colsum, int64_t cs) {
    int failed = 0;
    int64_t chunks = (rows + TILE - 1) / TILE;
    #pragma omp parallel if (rows >= 16)
    {
        float *buf = malloc((size_t)m * sizeof(float));
        double *own = colsum ? calloc((size_t)(heads * m), sizeof(double)) : NULL;
        int ok = buf && (!colsum || own);
        #pragma omp for schedule(static)
        for (int64_t chunk = 0; chunk < chunks; chunk++) {
            int64_t first = chunk * TILE, last = first + TILE < rows ? first + TILE : rows;
            if (!ok) continue;
            select_chunk(w, hs, ws, heads, first, last, m, reduction, k, buf, cols, vals, count,
                         own);
        }
        #pragma omp critical
        merge_thread(ok, own, colsum, cs, heads, m, &failed);
        free(buf);
        free(own);
    }
    return failed ? -1 : 0;
}

#define SELECT_CHUNK 16 /* block rows per work item of tgnn_attention_select (a multiple of TILE) */

/* tgnn_attention_heads and tgnn_select_rows in one pass over the block: a work item is a chunk
   of block rows i; it computes the rows g r + i of every key/value head's group (g < group),
   then selects their kept edges from all heads = kv_heads * group while those rows are still
   in cache. Head h = kv group + g of block row i lies at w + h r ws + i ws (w's heads must be
   r ws floats apart: one padded [H, r, ws] array). Column sums go to colsum [H, m] (double,
   rows m apart, added to). Returns 0, or -1 when a thread could not allocate its scratch. */
int tgnn_attention_select(const float *q, int64_t qh, const float *kt, int64_t kh, int64_t ks,
                          const float *v, int64_t vh, const float *bias, int64_t blo, int64_t bw,
                          float scale, int64_t kv_heads, int64_t group, int64_t r, int64_t m,
                          int64_t d, float *w, int64_t ws, float *out, int64_t oh, float *ent,
                          int64_t eh, int reduction, int64_t k, int64_t *cols, float *vals,
                          int64_t *count, double *colsum) {
    int64_t heads = kv_heads * group, hs = r * ws;
    int64_t chunks = (r + SELECT_CHUNK - 1) / SELECT_CHUNK;
    int failed = 0;
    #pragma omp parallel if (chunks > 1)
    {
        float *buf = malloc((size_t)m * sizeof(float));
        double *own = colsum ? calloc((size_t)(heads * m), sizeof(double)) : NULL;
        int ok = buf && (!colsum || own);
        #pragma omp for schedule(dynamic)
        for (int64_t chunk = 0; chunk < chunks; chunk++) {
            int64_t first = chunk * SELECT_CHUNK;
            int64_t last = first + SELECT_CHUNK < r ? first + SELECT_CHUNK : r;
            if (!ok) continue;
            for (int64_t kvh = 0; kvh < kv_heads; kvh++)
                for (int64_t g = 0; g < group; g++)
                    attention_rows(q + kvh * qh, kt + kvh * kh, ks, v + kvh * vh, bias, blo, bw,
                                   scale, g * r + first, g * r + last, r, m, d,
                                   w + kvh * group * hs, ws, out + kvh * oh, ent + kvh * eh);
            select_chunk(w, hs, ws, heads, first, last, m, reduction, k, buf, cols, vals, count,
                         own);
        }
        #pragma omp critical
        merge_thread(ok, own, colsum, m, heads, m, &failed);
        free(buf);
        free(own);
    }
    return failed ? -1 : 0;
}
