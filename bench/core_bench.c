/* The C core alone, no Ruby: verifying a mail_room-sized token through the
 * core's functions against a bare HMAC-SHA256 over the same bytes with
 * precomputed state (SHA256_CTX copies), the least any HS256 verify can do.
 *
 *   core verify:  mj_token_scan + mj_sig_valid (structure, MAC, compare)
 *   core open:    as the Ruby decode's native part: scan, header, strict
 *                 base64url and JSON check of the payload, MAC
 *   bare HMAC:    SHA256 midstate copies + CRYPTO_memcmp, nothing else
 *
 * Built and run by `rake bench:core` (-O2, linked with libcrypto); prints a
 * table, or one JSON object with --json. Each figure is the median over
 * many short rounds; each round runs every case in turn, so that a busy
 * machine slows them alike and a preempted batch moves no median. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "mj_core.h"

#define ROUNDS 201   /* short batches: a preempted one moves no median */

static volatile int mj_sink;

static double mj_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int mj_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double mj_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), mj_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the token ---- */

typedef struct {
    char text[MJ_TOKEN_MAX + 1];
    size_t len;
} mj_token;

static const unsigned char mj_secret[32] = {
    0x3b, 0x1f, 0x92, 0x4c, 0x7d, 0x05, 0xe8, 0xa1, 0x66, 0x2f, 0xd0, 0x19, 0x84, 0x5a, 0xc3, 0x70,
    0x0e, 0xb7, 0x48, 0x21, 0x9c, 0xf5, 0x33, 0x6a, 0xd9, 0x12, 0x87, 0x4e, 0xab, 0x60, 0x1d, 0xc8
};

/* {"alg":"HS256"} over {"nonce":...,"iat":...,"iss":"gitlab-mailroom"},
 * padded with a "pad" claim to about `size` bytes of token when size > 0. */
static void mj_make_token(const mj_key *key, size_t size, mj_token *t)
{
    static char json[MJ_TOKEN_MAX];
    static const char header[] = "{\"alg\":\"HS256\"}";
    unsigned char mac[MJ_MAC_LEN];
    size_t n, o;

    n = (size_t)snprintf(json, sizeof(json),
                         "{\"nonce\":\"5f0e3c2a9b8d7e6f1a2b3c4d\",\"iat\":1795897045,"
                         "\"iss\":\"gitlab-mailroom\"");
    if (size > 0) {
        /* base64url grows 4/3; the header and signature take about 66 bytes */
        size_t want = size > 80 ? (size - 66) / 4 * 3 : 0;
        if (want > n + 10) {
            size_t pad = want - n - 10, i;
            memcpy(json + n, ",\"pad\":\"", 8);
            n += 8;
            for (i = 0; i < pad; i++)
                json[n++] = (char)('a' + i % 26);
            json[n++] = '"';
        }
    }
    json[n++] = '}';
    o = mj_b64url_encode((const unsigned char *)header, sizeof(header) - 1, t->text);
    t->text[o++] = '.';
    o += mj_b64url_encode((const unsigned char *)json, n, t->text + o);
    mj_hmac(key, (const unsigned char *)t->text, o, mac);
    t->text[o++] = '.';
    o += mj_b64url_encode(mac, MJ_MAC_LEN, t->text + o);
    t->text[o] = '\0';
    t->len = o;
}

/* ---- the cases ---- */

static unsigned char mj_scratch[MJ_TOKEN_MAX];

static int mj_core_verify(const mj_key *key, const mj_token *t)
{
    mj_segments seg;
    if (mj_token_scan(t->text, t->len, &seg) != MJ_OK)
        return 0;
    return mj_sig_valid(key, &seg);
}

static int mj_core_open(const mj_key *key, const mj_token *t)
{
    static const char canonical[] = "eyJhbGciOiJIUzI1NiJ9";
    mj_segments seg;
    size_t len = 0, members = 0;
    if (mj_token_scan(t->text, t->len, &seg) != MJ_OK)
        return 0;
    if (seg.header_len != sizeof(canonical) - 1 || memcmp(seg.header, canonical, seg.header_len) != 0)
        return 0;
    if (mj_b64url_decode(seg.payload, seg.payload_len, mj_scratch, &len) != MJ_OK ||
        mj_json_object_check(mj_scratch, len, &members) != MJ_OK)
        return 0;
    return mj_sig_valid(key, &seg);
}

typedef struct {
    SHA256_CTX inner, outer;
    unsigned char expected[MJ_MAC_LEN];
    size_t signed_len;
} mj_bare;

static void mj_bare_init(mj_bare *b, const mj_token *t)
{
    unsigned char pad[MJ_BLOCK_LEN];
    size_t i;
    const char *dot = strrchr(t->text, '.');
    unsigned int maclen = 0;

    for (i = 0; i < MJ_BLOCK_LEN; i++)
        pad[i] = (unsigned char)((i < sizeof(mj_secret) ? mj_secret[i] : 0) ^ 0x36);
    SHA256_Init(&b->inner);
    SHA256_Update(&b->inner, pad, MJ_BLOCK_LEN);
    for (i = 0; i < MJ_BLOCK_LEN; i++)
        pad[i] = (unsigned char)((i < sizeof(mj_secret) ? mj_secret[i] : 0) ^ 0x5c);
    SHA256_Init(&b->outer);
    SHA256_Update(&b->outer, pad, MJ_BLOCK_LEN);
    b->signed_len = (size_t)(dot - t->text);
    HMAC(EVP_sha256(), mj_secret, sizeof(mj_secret), (const unsigned char *)t->text, b->signed_len,
         b->expected, &maclen);
}

static int mj_bare_verify(const mj_bare *b, const mj_token *t)
{
    SHA256_CTX ctx;
    unsigned char inner[MJ_MAC_LEN], mac[MJ_MAC_LEN];
    ctx = b->inner;
    SHA256_Update(&ctx, t->text, b->signed_len);
    SHA256_Final(inner, &ctx);
    ctx = b->outer;
    SHA256_Update(&ctx, inner, MJ_MAC_LEN);
    SHA256_Final(mac, &ctx);
    return CRYPTO_memcmp(mac, b->expected, MJ_MAC_LEN) == 0;
}

static int mj_oneshot_verify(const mj_bare *b, const mj_token *t)
{
    unsigned char mac[MJ_MAC_LEN];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), mj_secret, sizeof(mj_secret), (const unsigned char *)t->text, b->signed_len,
         mac, &maclen);
    return CRYPTO_memcmp(mac, b->expected, MJ_MAC_LEN) == 0;
}

enum { CASE_CORE_VERIFY, CASE_CORE_OPEN, CASE_BARE, CASE_ONESHOT, CASE_CORE_VERIFY_BAD,
       CASE_CORE_OPEN_BAD, CASE_COUNT };

typedef struct {
    const mj_key *key;
    const mj_token *good, *bad;
    const mj_bare *bare;
} mj_ctx;

static int mj_run(int which, const mj_ctx *c)
{
    switch (which) {
    case CASE_CORE_VERIFY: return mj_core_verify(c->key, c->good);
    case CASE_CORE_OPEN: return mj_core_open(c->key, c->good);
    case CASE_BARE: return mj_bare_verify(c->bare, c->good);
    case CASE_ONESHOT: return mj_oneshot_verify(c->bare, c->good);
    case CASE_CORE_VERIFY_BAD: return !mj_core_verify(c->key, c->bad);
    default: return !mj_core_open(c->key, c->bad);
    }
}

/* ns per call of each case: median over rounds. */
static void mj_measure(const mj_ctx *c, long iters, double out[CASE_COUNT])
{
    double samples[CASE_COUNT][ROUNDS];
    int r, k;
    long i;

    for (k = 0; k < CASE_COUNT; k++) {
        if (!mj_run(k, c)) {
            fprintf(stderr, "core_bench: case %d gives the wrong answer\n", k);
            exit(1);
        }
        for (i = 0; i < iters / 4; i++) /* warm-up */
            mj_sink += mj_run(k, c);
    }
    for (r = 0; r < ROUNDS; r++) {
        for (k = 0; k < CASE_COUNT; k++) {
            double t0 = mj_now();
            for (i = 0; i < iters; i++)
                mj_sink += mj_run(k, c);
            samples[k][r] = (mj_now() - t0) / (double)iters;
        }
    }
    for (k = 0; k < CASE_COUNT; k++)
        out[k] = mj_median(samples[k], ROUNDS);
}

int main(int argc, char **argv)
{
    static mj_token good, bad, big_good, big_bad;
    static const size_t sizes[] = { 256, 1024, 4096, 8192, MJ_TOKEN_MAX }; /* as bench.rb */
    double mail[CASE_COUNT], by_size[sizeof(sizes) / sizeof(sizes[0])][CASE_COUNT];
    mj_key key;
    mj_bare bare, big_bare;
    mj_ctx c;
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    size_t s, n_sizes = sizeof(sizes) / sizeof(sizes[0]);

    mj_key_init(&key, mj_secret, sizeof(mj_secret));
    mj_make_token(&key, 0, &good);
    bad = good;
    bad.text[bad.len - 20] = bad.text[bad.len - 20] == 'A' ? 'B' : 'A'; /* a wrong MAC, well formed */
    mj_bare_init(&bare, &good);
    c.key = &key;
    c.good = &good;
    c.bad = &bad;
    c.bare = &bare;
    mj_measure(&c, 2000, mail);

    for (s = 0; s < n_sizes; s++) {
        mj_make_token(&key, sizes[s], &big_good);
        big_bad = big_good;
        big_bad.text[big_bad.len - 20] = big_bad.text[big_bad.len - 20] == 'A' ? 'B' : 'A';
        mj_bare_init(&big_bare, &big_good);
        c.good = &big_good;
        c.bad = &big_bad;
        c.bare = &big_bare;
        mj_measure(&c, (long)(200000 / sizes[s]) + 20, by_size[s]);
    }

    if (json) {
        printf("{\"token_bytes\":%zu,\"core_verify_ns\":%.1f,\"core_open_ns\":%.1f,"
               "\"bare_hmac_ns\":%.1f,\"oneshot_hmac_ns\":%.1f,\"core_verify_bad_mac_ns\":%.1f,"
               "\"core_open_bad_mac_ns\":%.1f,\"verify_ratio\":%.3f,\"open_ratio\":%.3f,\"sizes\":[",
               good.len, mail[CASE_CORE_VERIFY], mail[CASE_CORE_OPEN], mail[CASE_BARE],
               mail[CASE_ONESHOT], mail[CASE_CORE_VERIFY_BAD], mail[CASE_CORE_OPEN_BAD],
               mail[CASE_CORE_VERIFY] / mail[CASE_BARE], mail[CASE_CORE_OPEN] / mail[CASE_BARE]);
        for (s = 0; s < n_sizes; s++) {
            mj_make_token(&key, sizes[s], &big_good);
            printf("%s{\"token_bytes\":%zu,\"core_open_ns\":%.1f,\"core_open_bad_mac_ns\":%.1f,"
                   "\"bare_hmac_ns\":%.1f}",
                   s ? "," : "", big_good.len, by_size[s][CASE_CORE_OPEN],
                   by_size[s][CASE_CORE_OPEN_BAD], by_size[s][CASE_BARE]);
        }
        printf("]}\n");
        return 0;
    }
    printf("C core, %zu-byte mail_room token (ns per call, median of %d rounds)\n", good.len, ROUNDS);
    printf("  %-44s %8.1f\n", "bare HMAC-SHA256, precomputed state", mail[CASE_BARE]);
    printf("  %-44s %8.1f\n", "one-shot HMAC() (re-keys each call)", mail[CASE_ONESHOT]);
    printf("  %-44s %8.1f  %.2fx bare\n", "core verify (scan + signature check)", mail[CASE_CORE_VERIFY],
           mail[CASE_CORE_VERIFY] / mail[CASE_BARE]);
    printf("  %-44s %8.1f  %.2fx bare\n", "core open (scan, base64url, JSON, MAC)", mail[CASE_CORE_OPEN],
           mail[CASE_CORE_OPEN] / mail[CASE_BARE]);
    printf("  %-44s %8.1f\n", "core verify, wrong MAC", mail[CASE_CORE_VERIFY_BAD]);
    printf("  %-44s %8.1f\n", "core open, wrong MAC", mail[CASE_CORE_OPEN_BAD]);
    printf("By token size (ns per call):\n  %8s %10s %10s %10s %10s\n", "bytes", "open", "open bad",
           "bare HMAC", "ns/byte");
    for (s = 0; s < n_sizes; s++) {
        mj_make_token(&key, sizes[s], &big_good);
        printf("  %8zu %10.1f %10.1f %10.1f %10.3f\n", big_good.len, by_size[s][CASE_CORE_OPEN],
               by_size[s][CASE_CORE_OPEN_BAD], by_size[s][CASE_BARE],
               by_size[s][CASE_CORE_OPEN] / (double)big_good.len);
    }
    mj_key_wipe(&key);
    return 0;
}
