/* libFuzzer harness: the compact-JWS token scan and the signature check,
 * then what Key#native_open does with the segments (strict base64url decode,
 * strict JSON object check). Invariants checked on every input:
 * - a scanned token's segments lie inside the input and are split by dots;
 * - a token re-signed with the harness key verifies, and the input's own
 *   signature verifies only if it is exactly that canonical signature. */
#include <stdlib.h>
#include <string.h>
#include "mj_core.h"

static mj_key fuzz_key;
static int fuzz_key_ready;

static void fuzz_init_key(void)
{
    static const unsigned char bytes[32] = "mailroom-jwt fuzz key 0123456789";
    if (!fuzz_key_ready) {
        if (mj_key_init(&fuzz_key, bytes, sizeof(bytes)) != 0)
            abort();
        fuzz_key_ready = 1;
    }
}

static void fuzz_open_segment(const char *b64, size_t len)
{
    unsigned char *out = malloc(mj_b64url_decoded_max(len) + 1);
    size_t got = 0, members = 0;
    if (out == NULL)
        abort();
    if (mj_b64url_decode(b64, len, out, &got) == MJ_OK) {
        if (got > mj_b64url_decoded_max(len))
            abort();
        (void)mj_json_object_check(out, got, &members);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *token = (const char *)data;
    mj_segments seg;
    int status;

    fuzz_init_key();
    memset(&seg, 0, sizeof(seg));
    status = mj_token_scan(token, size, &seg);
    if (status != MJ_OK)
        return 0;
    /* The segments must partition the input around exactly two dots. */
    if (seg.header != token || seg.header + seg.header_len + 1 != seg.payload ||
        seg.payload + seg.payload_len + 1 != seg.sig || seg.sig + seg.sig_len != token + size ||
        token[seg.header_len] != '.' || seg.payload[seg.payload_len] != '.' ||
        seg.header_len == 0 || seg.payload_len == 0 || size > MJ_TOKEN_MAX)
        abort();

    fuzz_open_segment(seg.header, seg.header_len);
    fuzz_open_segment(seg.payload, seg.payload_len);

    {
        size_t signed_len = seg.header_len + 1 + seg.payload_len;
        unsigned char mac[MJ_MAC_LEN];
        char sig[MJ_SIG_B64_LEN + 1];
        char *resigned = malloc(signed_len + 1 + MJ_SIG_B64_LEN);
        mj_segments again;
        int given_ok, expect_ok;

        if (resigned == NULL)
            abort();
        mj_hmac(&fuzz_key, data, signed_len, mac);
        if (mj_b64url_encode(mac, MJ_MAC_LEN, sig) != MJ_SIG_B64_LEN)
            abort();
        memcpy(resigned, data, signed_len);
        resigned[signed_len] = '.';
        memcpy(resigned + signed_len + 1, sig, MJ_SIG_B64_LEN);
        if (mj_token_scan(resigned, signed_len + 1 + MJ_SIG_B64_LEN, &again) == MJ_OK &&
            !mj_sig_valid(&fuzz_key, &again))
            abort(); /* a correctly signed token must verify */

        given_ok = mj_sig_valid(&fuzz_key, &seg);
        expect_ok = seg.sig_len == MJ_SIG_B64_LEN && memcmp(seg.sig, sig, MJ_SIG_B64_LEN) == 0;
        if (given_ok != expect_ok)
            abort(); /* only the one canonical spelling of the MAC verifies */
        free(resigned);
    }
    return 0;
}
