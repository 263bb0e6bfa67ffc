/* A dudect-style constant-time check of the C core (Reparaz, Balasch and
 * Verbauwhede, "Dude, is my code constant time?", 2017).
 *
 * Two classes of inputs that differ only in where a MAC is wrong: class 0
 * differs from the right MAC in its first byte, class 1 in its last byte.
 * Each measurement picks its class at random, the order is interleaved, and
 * the cycle counts of the two classes are compared with Welch's t-test, on
 * all measurements and on the measurements below several percentiles (as
 * dudect crops the long tail of interruptions). |t| above 4.5 means the
 * timing tells the classes apart; below it, no leak was detected.
 *
 * Targets:
 *   mac_equal   mj_mac_equal(right_mac, candidate, 32)
 *   sig_valid   mj_sig_valid on a token whose signature segment encodes the
 *               candidate MAC (the token scan is done before timing)
 *   sig_decode  only the base64url decoding of that signature segment: the
 *               attacker's own characters, which differ between the classes
 *               (a diagnostic: a difference here is about public input, not
 *               about the secret MAC)
 *   control     an early-exit byte comparison, which does leak: it shows that
 *               the measurement can see a difference of a few cycles.
 *
 * Usage: dudect [measurements per target] [target ...]   (default 1000000, all)
 * Compiled against the core's .c files and libcrypto only. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "mj_core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t mj_ticks(void)
{
    unsigned int aux;
    uint64_t t;
    _mm_lfence();
    t = __rdtscp(&aux);
    _mm_lfence();
    return t;
}
#else
static inline uint64_t mj_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#define BATCH 10000
#define CROPS 5
static const double crop_percentiles[CROPS] = { 1.0, 0.99, 0.9, 0.75, 0.5 };

typedef struct {
    double n[2], mean[2], m2[2];
} welch;

static void welch_push(welch *w, int cls, double x)
{
    double d;
    w->n[cls] += 1;
    d = x - w->mean[cls];
    w->mean[cls] += d / w->n[cls];
    w->m2[cls] += d * (x - w->mean[cls]);
}

static double welch_t(const welch *w)
{
    double v0, v1, den;
    if (w->n[0] < 2 || w->n[1] < 2)
        return 0;
    v0 = w->m2[0] / (w->n[0] - 1);
    v1 = w->m2[1] / (w->n[1] - 1);
    den = sqrt(v0 / w->n[0] + v1 / w->n[1]);
    return den > 0 ? (w->mean[0] - w->mean[1]) / den : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The leaky control: stops at the first differing byte. */
static int __attribute__((noinline)) naive_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (((volatile const unsigned char *)a)[i] != ((volatile const unsigned char *)b)[i])
            return 0;
    }
    return 1;
}

enum target { T_MAC_EQUAL, T_SIG_VALID, T_SIG_DECODE, T_CONTROL };
static const char *const target_names[] = { "mac_equal", "sig_valid", "sig_decode", "control" };

static mj_key key;
static unsigned char right_mac[MJ_MAC_LEN];
static char token_prefix[256];
static size_t token_prefix_len;

/* One batch of inputs: the class, the candidate MAC, and for sig_valid the
 * whole token and its scanned segments. */
typedef struct {
    int cls;
    unsigned char mac[MJ_MAC_LEN];
    char token[256];
    mj_segments seg;
} input;

static void make_input(input *in, int cls)
{
    unsigned char r;
    size_t len;
    in->cls = cls;
    memcpy(in->mac, right_mac, MJ_MAC_LEN);
    do {
        if (RAND_bytes(&r, 1) != 1)
            abort();
    } while (r == 0);
    in->mac[cls == 0 ? 0 : MJ_MAC_LEN - 1] ^= r;
    memcpy(in->token, token_prefix, token_prefix_len);
    len = token_prefix_len;
    len += mj_b64url_encode(in->mac, MJ_MAC_LEN, in->token + len);
    if (mj_token_scan(in->token, len, &in->seg) != MJ_OK)
        abort();
}

static volatile int sink;

static double run_target(enum target t, long total, long *used)
{
    input *batch = malloc(sizeof(input) * BATCH);
    uint64_t *times = malloc(sizeof(uint64_t) * BATCH), *sorted = malloc(sizeof(uint64_t) * BATCH);
    unsigned char coins[BATCH];
    uint64_t thresholds[CROPS];
    welch w[CROPS];
    long done = 0;
    int have_thresholds = 0, c;
    double worst = 0;

    if (batch == NULL || times == NULL || sorted == NULL)
        abort();
    memset(w, 0, sizeof(w));
    while (done < total) {
        long i, n = total - done < BATCH ? total - done : BATCH;
        if (RAND_bytes(coins, (int)n) != 1)
            abort();
        for (i = 0; i < n; i++)
            make_input(&batch[i], coins[i] & 1);
        for (i = 0; i < n; i++) {
            input *in = &batch[i];
            uint64_t t0, t1;
            switch (t) {
            case T_MAC_EQUAL:
                t0 = mj_ticks();
                sink = mj_mac_equal(right_mac, in->mac, MJ_MAC_LEN);
                t1 = mj_ticks();
                break;
            case T_SIG_VALID:
                t0 = mj_ticks();
                sink = mj_sig_valid(&key, &in->seg);
                t1 = mj_ticks();
                break;
            case T_SIG_DECODE: {
                unsigned char out[MJ_MAC_LEN + 2];
                size_t got;
                t0 = mj_ticks();
                sink = mj_b64url_decode(in->seg.sig, in->seg.sig_len, out, &got);
                t1 = mj_ticks();
                break;
            }
            default:
                t0 = mj_ticks();
                sink = naive_equal(right_mac, in->mac, MJ_MAC_LEN);
                t1 = mj_ticks();
                break;
            }
            times[i] = t1 - t0;
        }
        if (!have_thresholds) {
            /* The first batch sets the crop thresholds and is not counted
             * (it also warms the caches). */
            memcpy(sorted, times, sizeof(uint64_t) * (size_t)n);
            qsort(sorted, (size_t)n, sizeof(uint64_t), cmp_u64);
            for (c = 0; c < CROPS; c++) {
                long k = (long)(crop_percentiles[c] * (double)(n - 1));
                thresholds[c] = c == 0 ? UINT64_MAX : sorted[k];
            }
            have_thresholds = 1;
            continue;
        }
        for (i = 0; i < n; i++) {
            for (c = 0; c < CROPS; c++) {
                if (times[i] <= thresholds[c])
                    welch_push(&w[c], batch[i].cls, (double)times[i]);
            }
        }
        done += n;
    }
    printf("%-10s measurements=%ld", target_names[t], done);
    for (c = 0; c < CROPS; c++) {
        double tv = welch_t(&w[c]);
        printf(" t(p%.0f)=%.2f", crop_percentiles[c] * 100, tv);
        if (fabs(tv) > worst)
            worst = fabs(tv);
    }
    printf(" mean_ticks=%.1f/%.1f max|t|=%.2f %s\n", w[0].mean[0], w[0].mean[1], worst,
           worst < 4.5 ? "(no leak detected)" : "(LEAK: timing depends on the class)");
    fflush(stdout);
    *used = done;
    free(batch);
    free(times);
    free(sorted);
    return worst;
}

int main(int argc, char **argv)
{
    static const unsigned char key_bytes[32] = "mailroom-jwt timing key 01234567";
    static const char signing_input[] =
        "eyJhbGciOiJIUzI1NiJ9.eyJub25jZSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2NyIsImlhdCI6MTcwMDAwMDAwMCwiaXNzIjoiZ2l0bGFiLW1haWxyb29tIn0";
    long total = argc > 1 ? atol(argv[1]) : 1000000, used = 0;
    int i, t, any = 0;

    if (total < 1000)
        total = 1000;
    if (mj_key_init(&key, key_bytes, sizeof(key_bytes)) != 0)
        return 2;
    mj_hmac(&key, (const unsigned char *)signing_input, sizeof(signing_input) - 1, right_mac);
    token_prefix_len = sizeof(signing_input) - 1;
    memcpy(token_prefix, signing_input, token_prefix_len);
    token_prefix[token_prefix_len++] = '.';

    for (t = T_MAC_EQUAL; t <= T_CONTROL; t++) {
        int wanted = argc <= 2;
        for (i = 2; i < argc; i++)
            wanted |= strcmp(argv[i], target_names[t]) == 0;
        if (!wanted)
            continue;
        any = 1;
        run_target((enum target)t, total, &used);
    }
    mj_key_wipe(&key);
    return any ? 0 : 2;
}
